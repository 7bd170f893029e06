#!/usr/bin/env python3
"""Tiny LLaVA-1.5 and LLaVA-Med (Mistral) checkpoints, made and run by transformers'
LlavaForConditionalGeneration, with the outputs tests/models/llava_test.cpp compares against.

  tests/fixtures/models/llava/clip-vit-tiny/  CLIPVisionModel.save_pretrained + CLIPImageProcessor
                                              preprocessor_config.json: the vision tower the original
                                              layouts name in mm_vision_tower ("openai/clip-vit-tiny",
                                              resolved to this sibling folder by its basename)
  tests/fixtures/models/llava/original/       the liuhaotian layout: config model_type "llava" with the mm_*
                                              keys, pytorch_model-0000N-of-00002.bin + index (as
                                              liuhaotian/llava-v1.5-7b publishes), weights named as LLaVA
                                              names them (model.*, lm_head, model.mm_projector.{0,2}); the
                                              slow SentencePiece tokenizer (tokenizer.model)
  tests/fixtures/models/llava/hf/             the llava-hf layout: LlavaForConditionalGeneration.save_pretrained
                                              (sharded model-0000N-of-0000M.safetensors + index), the same
                                              weights, CLIPImageProcessor config, the same tokenizer.model
  tests/fixtures/models/llava/med/            LLaVA-Med v1.5 layout (model_type "llava_mistral", Mistral keys,
                                              safetensors shards + index), Mistral text model (GQA, theta 1e6),
                                              fast tokenizer (tokenizer.json saved by transformers 4.53.1)

The original layouts hold the hf layout's weights renamed the way LLaVA's convert_llava_weights_to_hf.py
maps them (in reverse), so one transformers model is the oracle of two folders.

expected.safetensors (one per model folder) holds, for each case c (a prompt and an image file, listed
in fixture.json):
  input.pixel_values.c   the reference's process_images: expand2square with int(255 * CLIP mean) (LLaVA-Med:
                         pasted at random.randint(c, c + 1) after random.seed(case seed)), then
                         CLIPImageProcessorPil (transformers 4's default slow processor)
  input.input_ids.c      tokenizer_image_token() on the reference's conversation prompt, with the
                         tokenizer class the reference loads (transformers 4.53.1: LLaVA-1.5 use_fast=False,
                         LLaVA-Med the fast one); -200 marks the image
  output.logits.c        LlavaForConditionalGeneration forward (fp32, eager) on those ids with -200 expanded
                         to image_token_index x (number of patches): logits [R, vocab] at the positions
                         input.logit_rows.c (first 4, the image's + 2, the last 16: the file stays small)
  output.greedy.c        generate(do_sample=False, max_new_tokens=32): the new ids (</s> included when it
                         ends the answer early)
  input.compat_pixels.c  (case 0) the reference_compat "llava_double_preprocess" pixels:
                         process_images(to_pil_image(process_images(image)))

usage: .venv/bin/python tests/oracles/models/make_llava_fixtures.py
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built here; never reach a hub

import torch  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import fixture_io  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models", "llava")
GENERATOR = "tests/oracles/models/make_llava_fixtures.py"
TOKENIZER_ORACLE = os.path.join(SRC, "tests", "oracles", "text", "hf_tokenizers_oracle.py")
WEIGHTS = "seeded random (torch.Generator; every parameter redrawn after the transformers init)"

IMAGE_SIZE, PATCH = 28, 14  # 4 patches -> 4 image embeddings
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGES = ["tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",
          "tests/fixtures/datasets/Camelyon17/patches/patient_004_node_0/patch_patient_004_node_0_x_3328_y_21792.png"]
WIDE, TALL = "wide_41x29.png", "tall_20x33.png"  # non-square: padding offsets on both axes
QUESTIONS = ["What modality is used to take this image?",
             "Is there a nodule in the left lung?\nAnswer yes or no.",
             "Can you provide a medical report for this image?"]
# (question, image) per case; per-case seeds for LLaVA-Med's random offset
CASES = [(0, 2), (1, 3), (2, 0), (0, 1)]
MED_SEEDS = [0, 7, 1234, 2**40 + 3]
# What tests/models/llava_test.cpp measured ("[measured]" lines; LibTorch 1.13, CPU, fp32); greedy ids and
# input ids identical.
MEASURED = {"original": {"logits": 1.85e-6, "pixel_values": 0.0, "compat_pixels": 0.0},
            "hf": {"logits": 1.85e-6, "pixel_values": 0.0},
            "med": {"logits": 6.05e-6, "pixel_values": 0.0}}
VICUNA_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")

CORPUS = ["A chat between a curious user and an artificial intelligence assistant.",
          "The assistant gives helpful, detailed, and polite answers to the user's questions.",
          "USER: What modality is used to take this image? ASSISTANT: The image is a chest x-ray.",
          "[INST] Is there a nodule in the left lung? [/INST] No, the lungs are clear.",
          "Can you provide a medical report for this image? Findings: no acute cardiopulmonary process.",
          "The heart size is normal. There is no pleural effusion or pneumothorax. 12 mm nodule.",
          "Answer yes or no. yes no left right lung liver kidney brain MRI CT ultrasound pathology"]


def spm_model(path):
    """A 320-piece BPE SentencePiece model with LLaMA's settings (byte fallback, digits split, dummy
    prefix, no whitespace folding, identity normalisation; unk 0, bos 1, eos 2), trained here."""
    import sentencepiece as spm
    # A fixed folder: the model stores its input and output paths, so reruns write the same file.
    d = os.path.join(tempfile.gettempdir(), "mvb_llava_spm")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    corpus = os.path.join(d, "corpus.txt")
    with open(corpus, "w") as f:
        f.write("\n".join(CORPUS * 4) + "\n")
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=os.path.join(d, "m"), vocab_size=320, model_type="bpe", byte_fallback=True,
        split_digits=True, add_dummy_prefix=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
        character_coverage=1.0, minloglevel=2)
    shutil.copy(os.path.join(d, "m.model"), path)
    shutil.rmtree(d)


def slow_tokenizer_files(out):
    """What liuhaotian/llava-v1.5-7b ships for its LlamaTokenizer (tokenizer.model + configs)."""
    spm_model(os.path.join(out, "tokenizer.model"))
    cfg = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
           "unk_token": "<unk>", "pad_token": None, "legacy": False, "model_max_length": 2048,
           "padding_side": "right", "sp_model_kwargs": {}, "clean_up_tokenization_spaces": False,
           "tokenizer_class": "LlamaTokenizer"}
    write_json(os.path.join(out, "tokenizer_config.json"), cfg)
    write_json(os.path.join(out, "special_tokens_map.json"),
               {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})


def tokenizer_oracle(request):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(request, f)
    try:
        out = subprocess.run([sys.executable, TOKENIZER_ORACLE, f.name], check=True, capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)

    def rnd(shape, std):
        return torch.randn(shape, generator=g) * std

    with torch.no_grad():
        for name, p in model.named_parameters():
            if ("norm" in name or "layrnorm" in name) and name.endswith("weight"):
                p.copy_(1.0 + rnd(p.shape, 0.1))
            elif name.endswith("bias"):
                p.copy_(rnd(p.shape, 0.1))
            elif "embed_tokens" in name:
                p.copy_(rnd(p.shape, 1.0))
            elif "embedding" in name:
                p.copy_(rnd(p.shape, 0.2))
            else:
                assert p.dim() >= 2, name
                p.copy_(rnd(p.shape, p[0].numel() ** -0.5))


def make_images(folder):
    src = Image.open(os.path.join(SRC, IMAGES[1])).convert("RGB")
    src.resize((41, 29), Image.BICUBIC).save(os.path.join(folder, WIDE))
    src.resize((20, 33), Image.BICUBIC).save(os.path.join(folder, TALL))
    return IMAGES + [os.path.relpath(os.path.join(folder, n), SRC) for n in (WIDE, TALL)]


# ---------------------------------------------------------------- the reference's preprocessing
def expand2square(img, colour, rng=None):
    """LLaVA's expand2square; with `rng` (LLaVA-Med) the paste offset is rng.randint(c, c + 1)."""
    w, h = img.size
    if w == h:
        return img
    side = max(w, h)
    c = (side - min(w, h)) // 2
    if rng is not None:
        c = rng.randint(c, c + 1)
    out = Image.new(img.mode, (side, side), colour)
    out.paste(img, (0, c) if w > h else (c, 0))
    return out


def process_image(img, processor, rng=None):
    colour = tuple(int(x * 255) for x in processor.image_mean)
    return processor(images=expand2square(img, colour, rng), return_tensors="pt")["pixel_values"][0]


def reference_prompt(family, question):
    qs = "<image>\n" + question.replace("<image>", "").strip()
    if family == "llava":
        return VICUNA_SYSTEM + " USER: " + qs + " ASSISTANT:"
    return "[INST] " + qs + " [/INST]"


# ---------------------------------------------------------------- models
def vision_config():
    from transformers import CLIPVisionConfig
    return CLIPVisionConfig(hidden_size=24, intermediate_size=48, num_hidden_layers=3, num_attention_heads=2,
                            image_size=IMAGE_SIZE, patch_size=PATCH, projection_dim=16, hidden_act="quick_gelu")


def text_config(kind, vocab):
    from transformers import LlamaConfig, MistralConfig
    common = dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2, bos_token_id=1,
                  eos_token_id=2, pad_token_id=0, max_position_embeddings=256, rms_norm_eps=1e-5)
    if kind == "llama":
        return LlamaConfig(num_attention_heads=4, num_key_value_heads=4, rope_theta=10000.0, **common)
    return MistralConfig(num_attention_heads=4, num_key_value_heads=2, rope_theta=1e6, sliding_window=None,
                         **common)


def original_config(hf, tower_id, kind):
    """The config.json LLaVA's own code writes: the text model's keys flat, plus the mm_* keys."""
    t = hf.text_config
    cfg = {"architectures": ["LlavaLlamaForCausalLM" if kind == "llama" else "LlavaMistralForCausalLM"],
           "model_type": "llava" if kind == "llama" else "llava_mistral",
           "hidden_size": t.hidden_size, "intermediate_size": t.intermediate_size,
           "num_hidden_layers": t.num_hidden_layers, "num_attention_heads": t.num_attention_heads,
           "num_key_value_heads": t.num_key_value_heads, "vocab_size": t.vocab_size, "hidden_act": "silu",
           "rms_norm_eps": t.rms_norm_eps, "rope_theta": t.rope_parameters["rope_theta"],
           "max_position_embeddings": t.max_position_embeddings, "bos_token_id": 1, "eos_token_id": 2,
           "pad_token_id": 0, "tie_word_embeddings": False, "torch_dtype": "float32", "use_cache": True,
           "mm_vision_tower": tower_id, "mm_hidden_size": hf.vision_config.hidden_size,
           "mm_vision_select_layer": -2, "mm_vision_select_feature": "patch", "mm_projector_type": "mlp2x_gelu",
           "mm_use_im_start_end": False, "mm_use_im_patch_token": False, "mm_patch_merge_type": "flat",
           "image_aspect_ratio": "pad", "tokenizer_model_max_length": 2048, "tokenizer_padding_side": "right",
           "freeze_mm_mlp_adapter": False, "tune_mm_mlp_adapter": False, "use_mm_proj": True}
    if kind == "llama":
        cfg["pretraining_tp"] = 1
    else:
        cfg["sliding_window"] = None
    return cfg


def original_state_dict(model):
    """convert_llava_weights_to_hf.py's mapping in reverse: language model -> model.* / lm_head,
    projector -> model.mm_projector.{0,2}; the vision tower lives in its own folder."""
    out = {}
    for k, v in model.state_dict().items():
        v = v.detach().clone().contiguous()
        if k.startswith("model.language_model."):
            out["model." + k[len("model.language_model."):]] = v
        elif k.startswith("lm_head."):
            out[k] = v
        elif k.startswith("model.multi_modal_projector.linear_1."):
            out["model.mm_projector.0." + k.rsplit(".", 1)[1]] = v
        elif k.startswith("model.multi_modal_projector.linear_2."):
            out["model.mm_projector.2." + k.rsplit(".", 1)[1]] = v
        else:
            assert k.startswith("model.vision_tower."), k
    return out


def write_shards(out, sd, fmt):
    """Two shards + index json, as published checkpoints do (pytorch_model-* or model-*)."""
    from safetensors.torch import save_file
    names = list(sd)
    half = len(names) // 2
    parts = [names[:half], names[half:]]
    weight_map = {}
    for i, part in enumerate(parts):
        if fmt == "bin":
            fname = f"pytorch_model-{i + 1:05d}-of-{len(parts):05d}.bin"
            torch.save({k: sd[k] for k in part}, os.path.join(out, fname))
        else:
            fname = f"model-{i + 1:05d}-of-{len(parts):05d}.safetensors"
            save_file({k: sd[k] for k in part}, os.path.join(out, fname), metadata={"format": "pt"})
        weight_map.update({k: fname for k in part})
    size = sum(v.numel() * v.element_size() for v in sd.values())
    index = "pytorch_model.bin.index.json" if fmt == "bin" else "model.safetensors.index.json"
    write_json(os.path.join(out, index), {"metadata": {"total_size": size}, "weight_map": weight_map})


def run_cases(model, out, images, pixel_fn, ids, image_token, n_patches):
    inputs, outputs = {}, {}
    for c, (qi, ii) in enumerate(CASES):
        pixels = pixel_fn(c, images[ii])
        ref_ids = ids[c]
        expanded = []
        for t in ref_ids:
            expanded += [image_token] * n_patches if t == -200 else [t]
        input_ids = torch.tensor([expanded])
        with torch.no_grad():
            logits = model(input_ids=input_ids, pixel_values=pixels[None]).logits[0]
            gen = model.generate(input_ids=input_ids, pixel_values=pixels[None], do_sample=False, max_new_tokens=32,
                                 pad_token_id=0)[0, input_ids.shape[1]:]
        # Logit rows kept (the file stays small): the first 4 positions, the image's and the 2 after it,
        # and the last 16 (all after the image, so they see its embeddings through attention).
        start = ref_ids.index(-200)
        rows = sorted(set(list(range(4)) + list(range(start, start + n_patches + 2))
                          + list(range(len(expanded) - 16, len(expanded)))))
        inputs[f"pixel_values.{c}"] = pixels
        inputs[f"input_ids.{c}"] = torch.tensor(ref_ids, dtype=torch.int64)
        inputs[f"logit_rows.{c}"] = torch.tensor(rows, dtype=torch.int64)
        outputs[f"logits.{c}"] = logits[rows]
        outputs[f"greedy.{c}"] = gen
    return inputs, outputs


def main():
    from transformers import (CLIPImageProcessor, CLIPImageProcessorPil, CLIPVisionModel, LlavaConfig,
                              LlavaForConditionalGeneration)
    shutil.rmtree(ROOT, ignore_errors=True)
    tower_dir, orig_dir, hf_dir, med_dir = (os.path.join(ROOT, n) for n in ("clip-vit-tiny", "original", "hf", "med"))
    for d in (tower_dir, orig_dir, hf_dir, med_dir):
        os.makedirs(d)
    image_files = make_images(ROOT)
    pil_images = [Image.open(os.path.join(SRC, p)).convert("RGB") for p in image_files]
    proc_settings = dict(size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
                         image_mean=CLIP_MEAN, image_std=CLIP_STD)

    # Tokenizers: the slow SentencePiece files for LLaVA-1.5; LLaVA-Med's fast tokenizer.json is what
    # transformers 4.53.1's LlamaTokenizerFast converts from the same model and saves.
    slow_tokenizer_files(orig_dir)
    tok_request = {"runtime": "reference", "jobs": [
        {"load": {"auto": orig_dir, "use_fast": False}, "llava": [reference_prompt("llava", q) for q in QUESTIONS]},
        {"load": {"auto": orig_dir, "use_fast": True}, "save": med_dir,
         "llava": [reference_prompt("med", q) for q in QUESTIONS]}]}
    tok_out = tokenizer_oracle(tok_request)
    slow_job, fast_job = tok_out["jobs"]
    assert slow_job["class"] == "LlamaTokenizer" and fast_job["class"] == "LlamaTokenizerFast", tok_out
    assert os.path.exists(os.path.join(med_dir, "tokenizer.json"))
    for f in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(orig_dir, f), hf_dir)
    spm_vocab = slow_job["vocab_size"]
    vocab = spm_vocab + 64  # llava-hf pads 32000 + <image> + <pad> to 32064; the image token is 32000
    image_token = spm_vocab

    fixture_cases = [{"question": QUESTIONS[q], "image": image_files[i]} for q, i in CASES]
    pil_proc = None
    tower_state = None
    results = {}
    for kind, seed in (("llama", 1), ("mistral", 2)):
        cfg = LlavaConfig(vision_config=vision_config(), text_config=text_config(kind, vocab),
                          image_token_index=image_token, vision_feature_layer=-2,
                          vision_feature_select_strategy="default", projector_hidden_act="gelu",
                          image_seq_length=(IMAGE_SIZE // PATCH) ** 2)
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(cfg).eval()
        redraw(model, seed)
        if kind == "mistral":
            # Both original layouts load their tower from the one clip-vit-tiny folder (mm_vision_tower).
            model.model.vision_tower.load_state_dict(tower_state)
        n_patches = (IMAGE_SIZE // PATCH) ** 2
        if kind == "llama":
            model.save_pretrained(hf_dir, max_shard_size="60KB")
            CLIPImageProcessor(**proc_settings).save_pretrained(hf_dir)
            # The vision tower folder (what mm_vision_tower names), as CLIPVisionModel saves it.
            tower = CLIPVisionModel(cfg.vision_config)
            tower_state = {k: v.clone() for k, v in model.model.vision_tower.state_dict().items()}
            tower.load_state_dict(tower_state)
            tower.save_pretrained(tower_dir)
            # transformers 5 saves a CLIPVisionModel without its "vision_model." level; the published tower
            # (openai/clip-vit-large-patch14-336, a whole CLIPModel) and transformers 4 keep it: write that.
            from safetensors.torch import load_file, save_file
            tower_file = os.path.join(tower_dir, "model.safetensors")
            sd = load_file(tower_file)
            save_file({(k if k.startswith("vision_model.") else "vision_model." + k): v for k, v in sd.items()},
                      tower_file, metadata={"format": "pt"})
            CLIPImageProcessor(**proc_settings).save_pretrained(tower_dir)
            pil_proc = CLIPImageProcessorPil.from_pretrained(tower_dir)
            write_json(os.path.join(orig_dir, "config.json"), original_config(cfg, "openai/clip-vit-tiny", kind))
            write_shards(orig_dir, original_state_dict(model), "bin")
            model = LlavaForConditionalGeneration.from_pretrained(hf_dir, attn_implementation="eager").eval()
            ids = [slow_job["llava"][q] for q, _ in CASES]
            inputs, outputs = run_cases(model, hf_dir, pil_images, lambda c, im: process_image(im, pil_proc), ids,
                                        image_token, n_patches)
            # reference_compat llava_double_preprocess: to_pil_image(float tensor) = mul(255).byte()
            first = inputs["pixel_values.0"]
            again = Image.fromarray(first.mul(255).byte().permute(1, 2, 0).numpy(), "RGB")
            inputs["compat_pixels.0"] = process_image(again, pil_proc)
            for d in (orig_dir, hf_dir):
                fixture_io.save_expected(d, inputs, outputs)
            results["llama"] = outputs
        else:
            write_json(os.path.join(med_dir, "config.json"), original_config(cfg, "openai/clip-vit-tiny", kind))
            write_shards(med_dir, original_state_dict(model), "safetensors")
            model = model.eval()
            ids = [fast_job["llava"][q] for q, _ in CASES]

            def med_pixels(c, im):
                rng = random.Random()
                rng.seed(MED_SEEDS[c])  # what random.seed(n) does to the global stream
                return process_image(im, pil_proc, rng)

            inputs, outputs = run_cases(model, med_dir, pil_images, med_pixels, ids, image_token, n_patches)
            # Python's MT19937 draws for the C++ port: randint(c, c + 1) for c = 0, 5 from these seeds,
            # and one global stream seeded once.
            draws = {}
            for s in MED_SEEDS + [42]:
                r = random.Random(s)
                draws[str(s)] = [r.randint(c, c + 1) for c in (0, 5, 0, 5, 3, 3, 3, 3)]
            write_json(os.path.join(med_dir, "python_random_draws.json"), draws)
            fixture_io.save_expected(med_dir, inputs, outputs)
            results["mistral"] = outputs

    oracle = ("transformers LlavaForConditionalGeneration (fp32, eager attention) forward(input_ids, pixel_values)"
              ".logits and generate(do_sample=False, max_new_tokens=32): stops after </s> (id 2); input ids from "
              "tokenizer_image_token semantics over transformers 4.53.1's tokenizer (tests/oracles/text/"
              "hf_tokenizers_oracle.py, runtime reference); pixels from expand2square + CLIPImageProcessorPil")
    common = dict(generator=GENERATOR, library=fixture_io.versions("transformers", "tokenizers", "pillow",
                                                                   "sentencepiece"),
                  oracle=oracle, weights=WEIGHTS, cases=fixture_cases, image_token_index=image_token,
                  tolerance={"logits": 1e-4, "pixel_values": 1e-6, "greedy": "identical"})
    fixture_io.write_fixture_json(orig_dir, layout="liuhaotian original (LlavaLlamaForCausalLM)",
                                  max_abs_diff_measured=MEASURED["original"], **common)
    fixture_io.write_fixture_json(hf_dir, layout="llava-hf (LlavaForConditionalGeneration.save_pretrained)",
                                  max_abs_diff_measured=MEASURED["hf"], **common)
    fixture_io.write_fixture_json(med_dir, layout="LLaVA-Med v1.5 (LlavaMistralForCausalLM)",
                                  med_seeds=MED_SEEDS, max_abs_diff_measured=MEASURED["med"], **common)
    fixture_io.write_fixture_json(tower_dir, layout="CLIPVisionModel.save_pretrained (mm_vision_tower)",
                                  **{k: v for k, v in common.items() if k in ("generator", "library", "weights")},
                                  oracle="the tower of the llama model in ../hf")
    for k, o in results.items():
        print(k, "greedy", [o[f"greedy.{c}"].tolist()[:8] for c in range(len(CASES))])


if __name__ == "__main__":
    main()
