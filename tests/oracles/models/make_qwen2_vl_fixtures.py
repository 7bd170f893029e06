#!/usr/bin/env python3
"""Tiny Qwen2-VL and Qwen2.5-VL checkpoints, made and run by transformers itself, with the outputs the
C++ tests (tests/models/qwen2_vl_test.cpp) compare against. Lingshu is Qwen2.5-VL weights run with
its forced 224 x 224 images, so it reuses the Qwen2.5-VL folder.

  tests/fixtures/models/qwen2_vl/      Qwen2VLForConditionalGeneration.save_pretrained (config.json with
                                       text_config / vision_config, model.safetensors with transformers 5
                                       names model.language_model.* / model.visual.* / lm_head.*),
                                       generation_config.json as Qwen/Qwen2-VL-7B-Instruct publishes it
                                       (ids of the tiny vocabulary), Qwen2Tokenizer.save_pretrained
                                       (tokenizer.json, tokenizer_config.json) plus vocab.json / merges.txt,
                                       the published chat_template.json and preprocessor_config.json,
                                       expected.safetensors, fixture.json
  tests/fixtures/models/qwen2_vl/published/config.json
                                       the same model's config in the layout the Hub checkpoints ship (text
                                       keys at the top level, rope_scaling {"type": "mrope"}, in_chans);
                                       the published weight names are model.layers.* / visual.* / lm_head.*
                                       (the C++ test renames model.safetensors into that layout; this
                                       generator checks that transformers loads that pair to the same logits)
  tests/fixtures/models/qwen2_5_vl/    the same for Qwen2_5_VLForConditionalGeneration (window attention
                                       with window_size 56 so that the tiny images span several windows,
                                       one full-attention block), and the Lingshu cases
  tests/fixtures/models/qwen2_vl_images/  the image files of the cases

Each case is what the reference (model/qwen2_vl.py, qwen25_vl.py, lingshu.py) does with one request:
messages [{"role": "user", "content": [image..., text]}], processor.apply_chat_template(tokenize=False,
add_generation_prompt=True), qwen_vl_utils.process_vision_info(messages), processor(text=[text],
images=image_inputs, padding=True, return_tensors="pt"), model.generate(**inputs, max_new_tokens=N)
with the checkpoint's generation_config.json in force. expected.safetensors holds per case <c>:
  input.<c>.input_ids, input.<c>.image_grid_thw
  input.<c>.pixel_index      uint8 [patches, 3, patch * patch]: the first temporal frame of pixel_values
                             as 8-bit indices into output.lut (the second frame is the same image);
                             the generator asserts lut[c][index] gives pixel_values bit for bit
  output.lut                 [3, 256] the processor's own rescale + normalize of every 8-bit value
  output.<c>.position_ids    model.model.get_rope_index(...)[0]  [3, 1, L]
  output.<c>.rope_delta      its mrope_position_deltas
  output.<c>.image_embeds    model.model.get_image_features(pixel_values, image_grid_thw).pooler_output
  output.<c>.logits          forward logits [1, L, V] (case "vqa"), else the last position's [1, V]
                             (pixel_index is left out for the Lingshu cases: see run_case)
  output.<c>.generated_ids   generate(**inputs, max_new_tokens=32) new tokens
and fixture.json holds each case's prompt text (apply_chat_template) and decoded answer.

Every parameter is redrawn from a seeded generator (transformers' init leaves norms at 1 and biases at 0),
so reruns write identical files.

usage: .venv/bin/python tests/oracles/models/make_qwen2_vl_fixtures.py
"""
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built here; never reach a hub

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import fixture_io  # noqa: E402

try:
    import qwen_vl_utils  # noqa: E402
except ImportError:
    sys.exit("qwen_vl_utils is missing: install the oracle environment (bash scripts/oracle_env.sh: "
             "qwen-vl-utils==0.0.10 with --no-deps)")

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models")
GENERATOR = "tests/oracles/models/make_qwen2_vl_fixtures.py"
WEIGHTS = "seeded random (torch.manual_seed; every parameter redrawn after the transformers init), float32"
NEW_TOKENS = 32

# The published chat template of Qwen/Qwen2-VL-7B-Instruct (Qwen2.5-VL-7B-Instruct and Lingshu-7B ship
# the same), as tests/text/data/chat_templates.json holds it.
with open(os.path.join(SRC, "tests", "text", "data", "chat_templates.json")) as f:
    CHAT_TEMPLATE = json.load(f)["qwen2_vl"]

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
# preprocessor_config.json of Qwen/Qwen2-VL-7B-Instruct (Qwen2.5-VL: processor_class Qwen2_5_VLProcessor).
PREPROCESSOR = {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2,
                "merge_size": 2, "image_mean": OPENAI_CLIP_MEAN, "image_std": OPENAI_CLIP_STD,
                "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor"}

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
            "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "s"), ("Ġ", "i"), ("o", "n"), ("e", "r"),
          ("Ġ", "s"), ("i", "n"), ("a", "t"), ("Ġ", "c"), ("Ġ", "m"), ("e", "d"), ("Ġ", "p"), ("o", "r"),
          ("Ġ", "w"), ("Ġ", "r"), ("a", "l"), ("?", "Ċ")]

IMAGES = {
    # (repository path or generated name, how it is made)
    "xray": "tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",
    "patch": "tests/fixtures/datasets/Camelyon17/patches/patient_004_node_0/patch_patient_004_node_0_x_3328_y_21792.png",
    "wide": "tests/fixtures/models/qwen2_vl_images/wide_190x60.png",
}
VQA = "Is there evidence of pneumonia in the left lung?\nAnswer with a single word or phrase."
CAPTION = "Can you provide a medical report for this image?"
MULTI = "Which image shows tissue?\nA. first\nB. second\nAnswer with the single letter corresponding to the best choice."
CASES = [  # name, images, prompt, fetch options (qwen_vl_utils message keys)
    ("vqa", ["wide"], VQA, {}),
    ("caption", ["xray"], CAPTION, {}),
    ("multi", ["patch", "wide"], MULTI, {}),
    ("pixels", ["wide"], VQA, {"min_pixels": 2 * 28 * 28, "max_pixels": 6 * 28 * 28}),  # the --min/max_pixels flags
]
LINGSHU_CASES = [("lingshu_vqa", ["wide"], VQA, {"resized_height": 224, "resized_width": 224}),
                 ("lingshu_caption", ["xray"], CAPTION, {"resized_height": 224, "resized_width": 224})]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def make_tokenizer():
    from transformers import Qwen2Tokenizer
    vocab = bytes_to_unicode() + ["".join(m) for m in MERGES]
    v = {t: i for i, t in enumerate(vocab)}
    for s in SPECIALS:
        v[s] = len(v)
    # Qwen2-VL-7B-Instruct's tokenizer_config: eos <|im_end|>, pad <|endoftext|>, no bos, the others special.
    return Qwen2Tokenizer(vocab=v, merges=MERGES, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None,
                          extra_special_tokens=SPECIALS[1:])


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "norm1" in name or "norm2" in name or "ln_q" in name:
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            else:
                assert p.dim() >= 2, name
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * fan_in ** -0.5)


def text_config(tok):
    ids = {s: tok.convert_tokens_to_ids(s) for s in SPECIALS}
    return dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=1, hidden_act="silu", max_position_embeddings=4096,
                rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                                                    "mrope_section": [2, 3, 3]},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=None,
                use_sliding_window=False, sliding_window=4096, max_window_layers=2, tie_word_embeddings=False)


def token_ids(tok):
    ids = {s: tok.convert_tokens_to_ids(s) for s in SPECIALS}
    return dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])


def generation_config(tok, temperature):
    # Qwen/Qwen2-VL-7B-Instruct generation_config.json (temperature 0.01; Qwen2.5-VL-7B-Instruct: 0.1)
    # with this vocabulary's ids for <|endoftext|> (bos, pad) and <|im_end|>.
    end, im_end = tok.convert_tokens_to_ids("<|endoftext|>"), tok.convert_tokens_to_ids("<|im_end|>")
    return {"bos_token_id": end, "pad_token_id": end, "do_sample": True, "eos_token_id": [im_end, end],
            "repetition_penalty": 1.05, "temperature": temperature, "top_p": 0.001, "top_k": 1,
            "transformers_version": "4.37.0"}


def published_config(model_type, cfg, tok):
    """config.json in the layout of the Hub checkpoints (transformers 4.4x wrote it): text keys at the top
    level, rope_theta + rope_scaling {"type": "mrope"}, vision_config with in_chans / spatial_patch_size."""
    t = text_config(tok)
    rope = t.pop("rope_parameters")
    out = {"architectures": [type(cfg).__name__.replace("Config", "ForConditionalGeneration")],
           "attention_dropout": 0.0, "bos_token_id": t["bos_token_id"], "eos_token_id": t["eos_token_id"],
           "vision_token_id": tok.convert_tokens_to_ids("<|vision_pad|>"), **token_ids(tok),
           "hidden_act": "silu", "hidden_size": t["hidden_size"], "initializer_range": 0.02,
           "intermediate_size": t["intermediate_size"], "max_position_embeddings": t["max_position_embeddings"],
           "max_window_layers": t["max_window_layers"], "model_type": model_type,
           "num_attention_heads": t["num_attention_heads"], "num_hidden_layers": t["num_hidden_layers"],
           "num_key_value_heads": t["num_key_value_heads"], "rms_norm_eps": t["rms_norm_eps"],
           "rope_theta": rope["rope_theta"], "sliding_window": 4096, "tie_word_embeddings": False,
           "torch_dtype": "float32", "transformers_version": "4.41.2", "use_cache": True,
           "use_sliding_window": False, "rope_scaling": {"type": "mrope", "mrope_section": rope["mrope_section"]},
           "vocab_size": t["vocab_size"]}
    v = cfg.vision_config
    if model_type == "qwen2_vl":
        out["vision_config"] = {"depth": v.depth, "embed_dim": v.embed_dim, "mlp_ratio": v.mlp_ratio,
                                "num_heads": v.num_heads, "in_chans": 3, "hidden_size": v.hidden_size,
                                "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14,
                                "temporal_patch_size": 2}
    else:
        out["vision_config"] = {"depth": v.depth, "hidden_act": v.hidden_act, "hidden_size": v.hidden_size,
                                "intermediate_size": v.intermediate_size, "num_heads": v.num_heads, "in_chans": 3,
                                "out_hidden_size": v.out_hidden_size, "patch_size": 14, "spatial_merge_size": 2,
                                "spatial_patch_size": 14, "window_size": v.window_size,
                                "fullatt_block_indexes": list(v.fullatt_block_indexes), "tokens_per_second": 2,
                                "temporal_patch_size": 2}
    return out


def published_name(n):
    """transformers 5 names -> the names the Hub checkpoints use."""
    if n.startswith("model.language_model."):
        return "model." + n[len("model.language_model."):]
    if n.startswith("model.visual."):
        return n[len("model."):]
    return n


def make_images():
    d = os.path.join(ROOT, "qwen2_vl_images")
    os.makedirs(d, exist_ok=True)
    src = Image.open(os.path.join(SRC, IMAGES["patch"])).convert("RGB")
    # 190 x 60 -> smart_resize 196 x 56: 7 merged columns, an odd count, so Qwen2.5's 2-unit windows
    # leave a partial one.
    src.resize((190, 60), Image.BICUBIC).save(os.path.join(SRC, IMAGES["wide"]))


def open_image(key):
    return Image.open(os.path.join(SRC, IMAGES[key])).convert("RGB")


def lut_for(image_processor):
    ramp = np.tile(np.arange(256, dtype=np.uint8), (3, 1, 1))
    x = image_processor.rescale(ramp, image_processor.rescale_factor)
    x = image_processor.normalize(x, image_processor.image_mean, image_processor.image_std)
    return np.ascontiguousarray(x[:, 0, :].astype(np.float32))


def pixel_index(pixel_values, lut):
    """uint8 [patches, 3, P*P] of the first temporal frame, checked to reproduce pixel_values exactly."""
    pv = pixel_values.numpy().reshape(pixel_values.shape[0], 3, 2, -1)
    assert np.array_equal(pv[:, :, 0], pv[:, :, 1]), "an image is two identical frames"
    frame = pv[:, :, 0]
    idx = np.zeros(frame.shape, dtype=np.uint8)
    for c in range(3):
        table = lut[c]
        pos = np.searchsorted(np.sort(table), frame[:, c])  # lut is increasing (positive std)
        assert np.all(np.diff(table) > 0)
        idx[:, c] = pos
        assert np.array_equal(table[idx[:, c]], frame[:, c]), "pixel values are not lut values"
    return torch.from_numpy(idx)


def run_case(model, processor, lut, name, image_keys, prompt, fetch):
    content = [dict(type="image", image=open_image(k), **fetch) for k in image_keys]
    content.append({"type": "text", "text": prompt})
    messages = [{"role": "user", "content": content}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    image_inputs, video_inputs = qwen_vl_utils.process_vision_info(messages)
    inputs = processor(text=[text], images=image_inputs, videos=video_inputs, padding=True, return_tensors="pt")
    with torch.no_grad():
        pos, delta = model.model.get_rope_index(inputs["input_ids"], mm_token_type_ids=inputs["mm_token_type_ids"],
                                                image_grid_thw=inputs["image_grid_thw"],
                                                attention_mask=inputs["attention_mask"])
        feats = model.model.get_image_features(inputs["pixel_values"], inputs["image_grid_thw"]).pooler_output
        logits = model(**inputs).logits
        out = model.generate(**inputs, max_new_tokens=NEW_TOKENS)
    new = out[0, inputs["input_ids"].shape[1]:]
    answer = processor.batch_decode(new[None], skip_special_tokens=True, clean_up_tokenization_spaces=False)[0]
    tensors_in = {f"{name}.input_ids": inputs["input_ids"], f"{name}.image_grid_thw": inputs["image_grid_thw"]}
    # Lingshu's 224 x 224 pixels (256 patches) are left out to keep the file small; the image-processor
    # fixtures (tests/fixtures/vision/processors) hold the library's 224 x 224 fetch_image cases.
    if not name.startswith("lingshu"):
        tensors_in[f"{name}.pixel_index"] = pixel_index(inputs["pixel_values"], lut)
    tensors_out = {f"{name}.position_ids": pos, f"{name}.rope_delta": delta,
                   f"{name}.image_embeds": torch.cat(list(feats), 0),
                   f"{name}.logits": logits if name == "vqa" else logits[:, -1],
                   f"{name}.generated_ids": new}
    info = {"images": [IMAGES[k] for k in image_keys], "prompt": prompt, "fetch": fetch, "text": text,
            "answer": answer.strip(), "new_tokens": int(new.numel()),
            "image_tokens": int((inputs["input_ids"] == model.config.image_token_id).sum())}
    print(name, "grid", inputs["image_grid_thw"].tolist(), "L", inputs["input_ids"].shape[1], "new", new.tolist())
    return tensors_in, tensors_out, info, inputs


def build(kind, out, seed):
    from transformers import (AutoImageProcessor, AutoTokenizer, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                              Qwen2_5_VLProcessor, Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor,
                              Qwen2VLVideoProcessor)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    tok = make_tokenizer()
    tok.save_pretrained(out)
    tok.backend_tokenizer.model.save(out)  # vocab.json + merges.txt, as the Hub folders ship them
    write_json(os.path.join(out, "chat_template.json"), {"chat_template": CHAT_TEMPLATE})
    pre = dict(PREPROCESSOR)
    if kind == "qwen2_5_vl":
        pre["processor_class"] = "Qwen2_5_VLProcessor"
    write_json(os.path.join(out, "preprocessor_config.json"), pre)
    if kind == "qwen2_vl":
        vision = dict(depth=2, embed_dim=16, hidden_size=32, hidden_act="quick_gelu", mlp_ratio=2, num_heads=2,
                      in_channels=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
        cfg = Qwen2VLConfig(text_config=text_config(tok), vision_config=vision, **token_ids(tok))
        cls, temperature = Qwen2VLForConditionalGeneration, 0.01
    else:
        vision = dict(depth=3, hidden_size=16, intermediate_size=24, out_hidden_size=32, hidden_act="silu",
                      num_heads=2, in_channels=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                      window_size=56, fullatt_block_indexes=[1], tokens_per_second=2)
        cfg = Qwen2_5_VLConfig(text_config=text_config(tok), vision_config=vision, **token_ids(tok))
        cls, temperature = Qwen2_5_VLForConditionalGeneration, 0.1
    torch.manual_seed(seed)
    model = cls(cfg).eval()
    redraw(model, seed)
    model.save_pretrained(out)
    write_json(os.path.join(out, "generation_config.json"), generation_config(tok, temperature))

    model = cls.from_pretrained(out, attn_implementation="eager", dtype=torch.float32).eval()
    # The PIL image processor (transformers 4's default slow one); AutoProcessor(backend="pil") also
    # wants a PIL video processor, which does not exist, so the processor is assembled from its parts.
    proc_cls = Qwen2VLProcessor if kind == "qwen2_vl" else Qwen2_5_VLProcessor
    processor = proc_cls(image_processor=AutoImageProcessor.from_pretrained(out, backend="pil"),
                         tokenizer=AutoTokenizer.from_pretrained(out), video_processor=Qwen2VLVideoProcessor(),
                         chat_template=CHAT_TEMPLATE)
    print(kind, type(processor).__name__, type(processor.image_processor).__name__,
          "generation_config", model.generation_config.to_diff_dict())
    lut = lut_for(processor.image_processor)
    inputs, outputs, cases = {}, {"lut": torch.from_numpy(lut)}, {}
    case_list = CASES + (LINGSHU_CASES if kind == "qwen2_5_vl" else [])
    first_inputs = None
    for name, keys, prompt, fetch in case_list:
        i, o, info, raw = run_case(model, processor, lut, name, keys, prompt, fetch)
        inputs.update(i)
        outputs.update(o)
        cases[name] = info
        first_inputs = first_inputs or raw
    fixture_io.save_expected(out, inputs, outputs)

    # The published layout: the same weights under the Hub names with a transformers-4 style config load
    # in transformers to the same logits (the C++ test renames model.safetensors the same way).
    pub = os.path.join(out, "published")
    os.makedirs(pub)
    write_json(os.path.join(pub, "config.json"), published_config(kind, cfg, tok))
    with tempfile.TemporaryDirectory() as tmp:
        from safetensors.torch import load_file, save_file
        sd = load_file(os.path.join(out, "model.safetensors"))
        save_file({published_name(k): v for k, v in sd.items()}, os.path.join(tmp, "model.safetensors"),
                  metadata={"format": "pt"})
        shutil.copy(os.path.join(pub, "config.json"), tmp)
        again = cls.from_pretrained(tmp, attn_implementation="eager", dtype=torch.float32).eval()
        with torch.no_grad():
            assert torch.equal(again(**first_inputs).logits, model(**first_inputs).logits), "published layout"
    return cases, model.generation_config.to_diff_dict()


def check_pins(*packages):
    pins = {}
    with open(os.path.join(HERE, "..", "requirements.txt")) as f:
        for line in f:
            if "==" in line and not line.lstrip().startswith("#"):
                name, ver = line.split("#")[0].strip().split("==")
                pins[name.lower()] = ver
    got = fixture_io.versions(*packages)
    bad = [f"{p} {v} (pinned {pins[p]})" for p, v in got.items() if p in pins and pins[p] != v.split("+")[0]]
    if bad:
        sys.exit("installed versions differ from tests/oracles/requirements.txt: " + ", ".join(bad))


def measured(folder):
    path = os.path.join(folder, "fixture.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        old = json.load(f)
    return {"max_abs_diff_measured": old["max_abs_diff_measured"]} if "max_abs_diff_measured" in old else {}


def main():
    check_pins("transformers", "tokenizers", "pillow", "qwen-vl-utils")
    make_images()
    oracle = ("transformers {cls}.from_pretrained(attn_implementation='eager', dtype=float32): "
              "model.model.get_rope_index(input_ids, mm_token_type_ids, image_grid_thw, attention_mask), "
              "model.model.get_image_features(pixel_values, image_grid_thw).pooler_output, forward().logits, "
              "generate(**inputs, max_new_tokens=32) with the folder's generation_config.json (do_sample, top_k 1, "
              "repetition_penalty 1.05); inputs from AutoProcessor.from_pretrained(backend='pil') (Qwen2VLImageProcessorPil, "
              "the slow processor transformers 4 loads) on the text of processor.apply_chat_template(messages, "
              "tokenize=False, add_generation_prompt=True) and the images of qwen_vl_utils.process_vision_info(messages), "
              "messages = [{'role': 'user', 'content': [image..., text]}] with Image.open(path).convert('RGB')")
    tolerance = {"logits_fp32": 1e-4, "image_embeds_fp32": 1e-4, "pixel_values": "exact", "input_ids": "exact",
                 "position_ids": "exact", "generated_ids": "exact"}
    for kind, cls, seed in (("qwen2_vl", "Qwen2VLForConditionalGeneration", 11),
                            ("qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration", 12)):
        out = os.path.join(ROOT, kind)
        kept = measured(out)
        cases, gen = build(kind, out, seed)
        fixture_io.write_fixture_json(
            out, generator=GENERATOR, library=fixture_io.versions("transformers", "tokenizers", "pillow", "qwen-vl-utils"),
            oracle=oracle.replace("{cls}", cls), weights=WEIGHTS, tolerance=tolerance, cases=cases,
            generation_config=gen, **kept,
            format=f"transformers {cls}.save_pretrained (model.safetensors); published/config.json = the Hub layout")
        print("wrote", out)


if __name__ == "__main__":
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    main()
