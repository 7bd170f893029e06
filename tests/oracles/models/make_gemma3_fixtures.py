#!/usr/bin/env python3
"""Tiny Gemma3 and MedGemma checkpoints (Gemma3ForConditionalGeneration), made and run by transformers itself,
with the outputs the C++ tests (tests/models/gemma3_test.cpp) compare against.

  tests/fixtures/models/gemma3/     Gemma3ForConditionalGeneration.save_pretrained (config.json with text_config /
                                    vision_config, model.safetensors), generation_config.json as google/gemma-3-4b-it
                                    publishes it (eos <eos>, <end_of_turn>; ids of the tiny vocabulary), a Gemma-style
                                    tokenizer.json (BPE over '▁'-joined text with byte fallback, no pre-tokenizer) +
                                    tokenizer_config.json + special_tokens_map.json, the published chat template
                                    (chat_template.json), preprocessor_config.json (Gemma3ImageProcessor) and
                                    processor_config.json, expected.safetensors, fixture.json
  tests/fixtures/models/gemma3/published/config.json
                                    the same model's config in the layout google/gemma-3-4b-it ships (rope_theta,
                                    rope_local_base_freq, rope_scaling, sliding_window_pattern instead of
                                    rope_parameters / layer_types); this generator checks that transformers builds
                                    the same model from it
  tests/fixtures/models/medgemma/   the same for a MedGemma-style folder (other weights, a sliding window of 600, so
                                    that the reference's budget sw - 512 = 88 tokens makes it truncate a long
                                    question; several images become one 896 x 896 panel)
  tests/fixtures/models/gemma3_images/  the generated test images

Each Gemma3 case is what the reference's model/gemma3.py does with one request (messages [{"role": "user",
"content": [image..., text]}], processor.apply_chat_template(tokenize=True, add_generation_prompt=True,
return_dict=True), model.generate(**inputs, max_new_tokens=N, do_sample=False)); each MedGemma case is what
model/medgemma.py (Nanboy-Ronan/MedVLMBench 6a7142b) does: the system turn, the image panel, the prompt fit and the
max_new_tokens budget, copied below from that file. expected.safetensors holds per case <c>:
  input.<c>.input_ids, input.<c>.token_type_ids
  input.<c>.pixel_index       uint8 [images, 3, S, S]: pixel_values as 8-bit indices into output.lut (checked)
  output.lut                  [3, 256] the processor's rescale + normalize of every 8-bit value
  output.<c>.image_embeds     model.model.get_image_features(pixel_values).pooler_output  [images, T, hidden]
  output.<c>.logits           forward logits [1, L, V] (first case), else the last position's [1, V]
  output.<c>.generated_ids    generate() new tokens (greedy)
and fixture.json holds each case's rendered prompt (apply_chat_template(tokenize=False)), decoded answer and
max_new_tokens.

usage: .venv/bin/python tests/oracles/models/make_gemma3_fixtures.py
"""
import json
import math
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import fixture_io  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models")
GENERATOR = "tests/oracles/models/make_gemma3_fixtures.py"
WEIGHTS = "seeded random (torch.manual_seed; every parameter redrawn after the transformers init), float32"
NEW_TOKENS = 32

VISION = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_channels=3,
              image_size=56, patch_size=14, layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh",
              vision_use_head=False, model_type="siglip_vision_model")
MM_TOKENS = 4  # 56 / 14 = 4 x 4 patches, average-pooled 2 x 2 to 2 x 2 tokens (the real model: 64 x 64 -> 16 x 16)

SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>",
            "<end_of_image>"]
IMAGE_TOKEN = "<image_soft_token>"

# The chat template of google/gemma-3-4b-it (chat_template.json; medgemma-4b-it ships the same).
CHAT_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n'}}\n"
    "{%- endif -%}\n")

MEDGEMMA_SYSTEM = "You are an expert on understanding medical images."
VQA = "Is there evidence of pneumonia in the left lung?\nAnswer with a single word or phrase."
CAPTION = "Can you provide a medical report for this image?"
MULTI = "Which image shows tissue?\nA. first\nB. second\nAnswer with the single letter corresponding to the best choice."
LONG = ("  " + " ".join(["The patient presents with a persistent cough and mild fever over the last week."] * 6) +
        " Which finding is most likely? é ü  ")
CORPUS = ("the image is a scan of a lung with tissue and a box . is there evidence of pneumonia in the left lung ? "
          "answer with a single word or phrase . can you provide a medical report for this image ? which shows "
          "first second letter corresponding to best choice . you are an expert on understanding medical images . "
          "The patient presents with persistent cough and mild fever over last week . finding most likely "
          "Is Can Which You Answer A B user model truncated")

IMAGES = {
    "xray": "tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",
    "patch": "tests/fixtures/datasets/Camelyon17/patches/patient_004_node_0/patch_patient_004_node_0_x_3328_y_21792.png",
    "big": "tests/fixtures/models/gemma3_images/gradient_900x500.png",
}
GEMMA3_CASES = [("vqa", ["xray"], VQA), ("caption", ["patch"], CAPTION), ("multi", ["patch", "xray"], MULTI)]
MEDGEMMA_CASES = [("med_vqa", ["xray"], VQA), ("med_panel", ["big", "patch", "xray"], MULTI),
                  ("med_long", ["patch"], LONG)]


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def make_images():
    d = os.path.join(ROOT, "gemma3_images")
    os.makedirs(d, exist_ok=True)
    # Larger than a panel cell (436 px wide for 3 images), so MedGemma's thumbnail really resizes it (LANCZOS, less
    # than 4x: no reduce step); smooth, so the PNG stays small.
    w, h = 900, 500
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // (w - 1)), (y * 255 // (h - 1)), ((x + y) // 6) % 256], -1).astype(np.uint8)
    Image.fromarray(img).save(os.path.join(SRC, IMAGES["big"]), optimize=True)


def open_image(key):
    return Image.open(os.path.join(SRC, IMAGES[key])).convert("RGB")


def train_merges(corpus, count):
    words = {}
    for w in corpus.split(" "):
        key = tuple("▁" + w)
        words[key] = words.get(key, 0) + 1
    merges = []
    for _ in range(count):
        pairs = {}
        for word, n in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        best = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        merges.append(best)
        new = {}
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + n
        words = new
    return merges


def build_tokenizer(folder):
    """Gemma's tokenizer.json shape: BPE over text with spaces replaced by '▁', byte fallback, <bos> prepended."""
    from tokenizers import Tokenizer, decoders, normalizers, processors
    from tokenizers.models import BPE
    vocab = {}
    for s in SPECIALS:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    used = set(CORPUS + VQA + CAPTION + MULTI + LONG + MEDGEMMA_SYSTEM) - {" "}
    for c in ["▁", "\n"] + sorted(used):
        vocab.setdefault(c, len(vocab))
    merges = train_merges(CORPUS, 120)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    vocab.setdefault("\n\n", len(vocab))  # one token in Gemma; the processor puts "\n\n" around each image
    vocab[IMAGE_TOKEN] = len(vocab)
    ids = {s: vocab[s] for s in SPECIALS + [IMAGE_TOKEN]}
    tok = Tokenizer(BPE(vocab=vocab, merges=merges + [("\n", "\n")], unk_token="<unk>", byte_fallback=True,
                        fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A <bos> $B",
                                                       special_tokens=[("<bos>", ids["<bos>"])])
    tok.add_special_tokens(SPECIALS + [IMAGE_TOKEN])
    tok.save(os.path.join(folder, "tokenizer.json"))
    added = {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                      "special": True} for s, i in ids.items()}
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added, "bos_token": "<bos>",
        "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>", "boi_token": "<start_of_image>",
        "eoi_token": "<end_of_image>", "image_token": IMAGE_TOKEN,
        "extra_special_tokens": {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                                 "image_token": IMAGE_TOKEN},
        "clean_up_tokenization_spaces": False, "model_max_length": 1000000000000000019884624838656,
        "padding_side": "left", "processor_class": "Gemma3Processor", "spaces_between_special_tokens": False,
        "tokenizer_class": "GemmaTokenizer", "use_default_system_prompt": False})
    write_json(os.path.join(folder, "special_tokens_map.json"), {
        "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": IMAGE_TOKEN})
    return len(vocab), ids


def write_processor_files(folder):
    # google/gemma-3-4b-it's preprocessor_config.json with the tiny image size.
    write_json(os.path.join(folder, "preprocessor_config.json"), {
        "do_convert_rgb": None, "do_normalize": True, "do_pan_and_scan": None, "do_rescale": True, "do_resize": True,
        "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "Gemma3ImageProcessor", "image_seq_length": MM_TOKENS,
        "image_std": [0.5, 0.5, 0.5], "pan_and_scan_max_num_crops": None, "pan_and_scan_min_crop_size": None,
        "pan_and_scan_min_ratio_to_activate": None, "processor_class": "Gemma3Processor", "resample": 2,
        "rescale_factor": 0.00392156862745098, "size": {"height": VISION["image_size"], "width": VISION["image_size"]}})
    write_json(os.path.join(folder, "processor_config.json"),
               {"image_seq_length": MM_TOKENS, "processor_class": "Gemma3Processor"})
    write_json(os.path.join(folder, "chat_template.json"), {"chat_template": CHAT_TEMPLATE})


def text_config(vocab_size, ids, sliding_window):
    return dict(model_type="gemma3_text", vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                query_pre_attn_scalar=12, hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6,
                max_position_embeddings=2048, sliding_window=sliding_window,
                layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                rope_parameters={"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                                 "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
                attention_bias=False, final_logit_softcapping=None, attn_logit_softcapping=None,
                tie_word_embeddings=True, pad_token_id=ids["<pad>"], bos_token_id=ids["<bos>"],
                eos_token_id=ids["<eos>"])


def published_config(vocab_size, ids, sliding_window):
    """config.json as google/gemma-3-4b-it ships it (transformers 4.50 wrote it)."""
    t = text_config(vocab_size, ids, sliding_window)
    for k in ("layer_types", "rope_parameters", "pad_token_id", "bos_token_id", "eos_token_id", "tie_word_embeddings"):
        t.pop(k)
    t.update(rope_scaling={"factor": 8.0, "rope_type": "linear"}, rope_theta=1000000.0, rope_local_base_freq=10000.0,
             sliding_window_pattern=3)
    return {"architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": ids["<start_of_image>"],
            "eoi_token_index": ids["<end_of_image>"], "eos_token_id": [ids["<eos>"], ids["<end_of_turn>"]],
            "image_token_index": ids[IMAGE_TOKEN], "initializer_range": 0.02, "mm_tokens_per_image": MM_TOKENS,
            "model_type": "gemma3", "text_config": t, "torch_dtype": "float32", "transformers_version": "4.50.0.dev0",
            "vision_config": dict(VISION)}


def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight") and p.dim() == 1:
                # Gemma norms scale by (1 + w): small values around 0; SigLIP LayerNorms around 1.
                base = 0.0 if ("layernorm" in name and "vision" not in name) or "q_norm" in name or \
                    "k_norm" in name or "mm_soft_emb_norm" in name or name.endswith("model.norm.weight") or \
                    "language_model.norm" in name else 1.0
                p.copy_(base + torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)  # times sqrt(hidden): about the layers' scale
            else:
                fan_in = p.shape[0] if "mm_input_projection_weight" in name else p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * fan_in ** -0.5)


def lut_for(image_processor):
    ramp = np.tile(np.arange(256, dtype=np.uint8), (3, 1, 1))
    x = image_processor.rescale(ramp, image_processor.rescale_factor)
    x = image_processor.normalize(x, image_processor.image_mean, image_processor.image_std)
    return np.ascontiguousarray(x[:, 0, :].astype(np.float32))


def pixel_index(pixel_values, lut):
    pv = pixel_values.numpy()
    idx = np.zeros(pv.shape, dtype=np.uint8)
    for c in range(3):
        table = lut[c]
        assert np.all(np.diff(table) > 0)
        pos = np.searchsorted(table, pv[:, c])
        pos = np.clip(pos, 0, 255)
        idx[:, c] = pos
        assert np.array_equal(table[idx[:, c]], pv[:, c]), "pixel values are not lut values"
    return torch.from_numpy(idx)


# ---- model/medgemma.py (Nanboy-Ronan/MedVLMBench 6a7142b), the inference path, as written there ----

def compose_image_panel(images, panel_size=896, padding=8, background=(0, 0, 0)):
    if len(images) == 1:
        return images[0]
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    cell_w = max(1, (panel_size - padding * (cols + 1)) // cols)
    cell_h = max(1, (panel_size - padding * (rows + 1)) // rows)
    canvas = Image.new("RGB", (panel_size, panel_size), background)
    for idx, image in enumerate(images):
        tile = image.copy()
        tile.thumbnail((cell_w, cell_h), Image.Resampling.LANCZOS)
        row, col = idx // cols, idx % cols
        x0 = padding + col * (cell_w + padding)
        y0 = padding + row * (cell_h + padding)
        canvas.paste(tile, (x0 + (cell_w - tile.width) // 2, y0 + (cell_h - tile.height) // 2))
    return canvas


def medgemma_build_inputs(processor, image_contents, qs):
    messages = [{"role": "system", "content": [{"type": "text", "text": MEDGEMMA_SYSTEM}]},
                {"role": "user", "content": [*image_contents, {"type": "text", "text": qs}]}]
    return messages, processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                   return_dict=True, return_tensors="pt")


def truncate_text_middle(text, max_chars):
    if len(text) <= max_chars:
        return text
    marker = "\n[... truncated ...]\n"
    if max_chars <= len(marker) + 8:
        return text[-max_chars:]
    head_chars = (max_chars - len(marker)) // 2
    tail_chars = max_chars - len(marker) - head_chars
    return text[:head_chars] + marker + text[-tail_chars:]


def fit_prompt_within_window(processor, image_contents, qs, target_input_len):
    low, high = 1, len(qs)
    best = None
    while low <= high:
        mid = (low + high) // 2
        cand = truncate_text_middle(qs, mid)
        _, inputs = medgemma_build_inputs(processor, image_contents, cand)
        if inputs["input_ids"].shape[-1] <= target_input_len:
            best = (cand, inputs)
            low = mid + 1
        else:
            high = mid - 1
    if best is None:
        raise ValueError("could not fit")
    return best


def medgemma_inputs(processor, images, qs, sliding_window, default_max_new_tokens=512):
    pil_images = [im.convert("RGB") for im in images]
    if len(pil_images) > 1:
        pil_images = [compose_image_panel(pil_images)]
    image_contents = [{"type": "image", "image": img} for img in pil_images]
    messages, inputs = medgemma_build_inputs(processor, image_contents, qs)
    input_len = inputs["input_ids"].shape[-1]
    target = max(1, sliding_window - default_max_new_tokens)
    if input_len > target:
        try:
            qs, inputs = fit_prompt_within_window(processor, image_contents, qs, target)
        except ValueError:
            qs, inputs = fit_prompt_within_window(processor, image_contents, qs, sliding_window)
        input_len = inputs["input_ids"].shape[-1]
    max_new = min(default_max_new_tokens, sliding_window - input_len)
    messages, _ = medgemma_build_inputs(processor, image_contents, qs)
    return messages, inputs, max_new, qs, pil_images

# ---- end of the reference's logic ----


def run_case(model, processor, lut, name, image_keys, prompt, medgemma, sliding_window, full_logits):
    images = [open_image(k) for k in image_keys]
    if medgemma:
        messages, inputs, max_new, qs, used = medgemma_inputs(processor, images, prompt, sliding_window)
    else:
        messages = [{"role": "user", "content": [*[{"type": "image", "image": im} for im in images],
                                                 {"type": "text", "text": prompt}]}]
        inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                               return_tensors="pt")
        max_new, qs = NEW_TOKENS, prompt
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    with torch.no_grad():
        feats = model.model.get_image_features(inputs["pixel_values"]).pooler_output
        logits = model(**inputs).logits
        out = model.generate(**inputs, max_new_tokens=max_new, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1]:]
    answer = processor.decode(new, skip_special_tokens=True)
    tin = {f"{name}.input_ids": inputs["input_ids"], f"{name}.token_type_ids": inputs["token_type_ids"],
           f"{name}.pixel_index": pixel_index(inputs["pixel_values"], lut)}
    tout = {f"{name}.image_embeds": feats, f"{name}.logits": logits if full_logits else logits[:, -1],
            f"{name}.generated_ids": new}
    info = {"images": [IMAGES[k] for k in image_keys], "prompt": prompt, "fitted_prompt": qs, "text": text,
            "answer": answer.strip(), "max_new_tokens": int(max_new), "new_tokens": int(new.numel()),
            "prompt_tokens": int(inputs["input_ids"].shape[1])}
    print(name, "L", inputs["input_ids"].shape[1], "max_new", max_new, "new", new.tolist()[:12])
    return tin, tout, info


def build(kind, out, seed, sliding_window):
    from transformers import (AutoImageProcessor, AutoTokenizer, Gemma3Config, Gemma3ForConditionalGeneration,
                              Gemma3Processor)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    vocab_size, ids = build_tokenizer(out)
    write_processor_files(out)
    cfg = Gemma3Config(text_config=text_config(vocab_size, ids, sliding_window), vision_config=dict(VISION),
                       mm_tokens_per_image=MM_TOKENS, boi_token_index=ids["<start_of_image>"],
                       eoi_token_index=ids["<end_of_image>"], image_token_index=ids[IMAGE_TOKEN],
                       eos_token_id=[ids["<eos>"], ids["<end_of_turn>"]])
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(cfg).eval()
    redraw(model, seed)
    model.save_pretrained(out)
    # google/gemma-3-4b-it generation_config.json (cache_implementation "hybrid", top_k 64, top_p 0.95, do_sample
    # false is implicit) with this vocabulary's ids.
    write_json(os.path.join(out, "generation_config.json"), {
        "bos_token_id": ids["<bos>"], "cache_implementation": "hybrid", "do_sample": True,
        "eos_token_id": [ids["<eos>"], ids["<end_of_turn>"]], "pad_token_id": ids["<pad>"], "top_k": 64,
        "top_p": 0.95, "transformers_version": "4.50.0.dev0"})

    model = Gemma3ForConditionalGeneration.from_pretrained(out, attn_implementation="eager",
                                                           dtype=torch.float32).eval()
    # The slow (PIL) image processor, which transformers 4.53 loads by default for Gemma3.
    processor = Gemma3Processor(image_processor=AutoImageProcessor.from_pretrained(out, backend="pil"),
                                tokenizer=AutoTokenizer.from_pretrained(out), chat_template=CHAT_TEMPLATE,
                                image_seq_length=MM_TOKENS)
    print(kind, type(processor.image_processor).__name__, type(processor.tokenizer).__name__)
    lut = lut_for(processor.image_processor)
    inputs, outputs, cases = {}, {"lut": torch.from_numpy(lut)}, {}
    medgemma = kind == "medgemma"
    first = True
    for name, keys, prompt in (MEDGEMMA_CASES if medgemma else GEMMA3_CASES):
        i, o, info = run_case(model, processor, lut, name, keys, prompt, medgemma, sliding_window, first)
        first = False
        inputs.update(i)
        outputs.update(o)
        cases[name] = info
    fixture_io.save_expected(out, inputs, outputs)

    pub = os.path.join(out, "published")
    os.makedirs(pub)
    write_json(os.path.join(pub, "config.json"), published_config(vocab_size, ids, sliding_window))
    again = Gemma3ForConditionalGeneration(Gemma3Config.from_pretrained(pub)).eval()
    again.load_state_dict(model.state_dict())
    probe = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image", "image": open_image("xray")}, {"type": "text", "text": VQA}]}],
        add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
    with torch.no_grad():
        again.config._attn_implementation = "eager"
        assert torch.allclose(again(**probe).logits, model(**probe).logits, atol=1e-6), "published config"
    return cases, model.generation_config.to_diff_dict()


def measured(folder):
    """The C++ test's measured differences, kept across reruns (they are filled in from its output by hand)."""
    path = os.path.join(folder, "fixture.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        old = json.load(f)
    return {"max_abs_diff_measured": old["max_abs_diff_measured"]} if "max_abs_diff_measured" in old else {}


def main():
    make_images()
    oracle = ("transformers Gemma3ForConditionalGeneration.from_pretrained(attn_implementation='eager', "
              "dtype=float32): model.model.get_image_features(pixel_values).pooler_output, forward().logits, "
              "generate(**inputs, max_new_tokens=N, do_sample=False); inputs from Gemma3Processor(image_processor="
              "AutoImageProcessor.from_pretrained(backend='pil'), tokenizer=AutoTokenizer).apply_chat_template("
              "messages, add_generation_prompt=True, tokenize=True, return_dict=True); Gemma3: messages = "
              "[user: [image..., text]], N = 32; MedGemma: model/medgemma.py's system turn, panel, prompt fit and "
              "max_new_tokens = min(512, sliding_window - input_len)")
    tolerance = {"logits_fp32": 1e-4, "image_embeds_fp32": 1e-4, "pixel_values": "exact", "input_ids": "exact",
                 "rendered_prompt": "exact", "generated_ids": "exact"}
    for kind, seed, sw in (("gemma3", 21, 48), ("medgemma", 22, 600)):
        out = os.path.join(ROOT, kind)
        kept = measured(out)
        cases, gen = build(kind, out, seed, sw)
        fixture_io.write_fixture_json(
            out, generator=GENERATOR, library=fixture_io.versions("transformers", "tokenizers", "pillow", "torch"),
            oracle=oracle, weights=WEIGHTS, tolerance=tolerance, cases=cases, generation_config=gen, **kept,
            format="transformers Gemma3ForConditionalGeneration.save_pretrained (model.safetensors); "
                   "published/config.json = the google/gemma-3-4b-it config layout")
        print("wrote", out)


if __name__ == "__main__":
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    main()
