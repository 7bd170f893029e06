#!/usr/bin/env python3
"""Tiny InternVL3 (-hf layout) checkpoints, made and run by transformers itself, with the outputs the
C++ tests (tests/models/internvl_test.cpp) compare against.

  tests/fixtures/models/internvl/      InternVLForConditionalGeneration.save_pretrained (config.json with
                                       vision_config internvl_vision / text_config qwen2, model.safetensors
                                       with the names model.vision_tower.* / model.multi_modal_projector.* /
                                       model.language_model.* / lm_head.*), the -hf folders' other files as
                                       the conversion script writes them: Qwen2Tokenizer.save_pretrained with
                                       the <img> / </img> / <IMG_CONTEXT> extra special tokens, the published
                                       chat template, preprocessor_config.json of GotOcr2ImageProcessorFast
                                       (tiles of 56 px here so that pixel values stay small), processor_config.json
                                       (image_seq_length), generation_config.json (bos / eos only, as published),
                                       expected.safetensors, fixture.json
  tests/fixtures/models/internvl_qk/   the other vision-tower options (InternViT-6B style: rms_norm, use_qk_norm,
                                       no mean pooling so the final layernorm runs, vision_feature_layer -2) and a
                                       tied lm_head; image features and logits only
  tests/fixtures/models/internvl_images/  the generated image files of the cases

Each case is what the reference (model/internvl.py, N's version) does with one request: messages
[{"role": "user", "content": [image..., text]}], processor.apply_chat_template(messages,
add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"), model.generate(**inputs,
max_new_tokens=N) with the checkpoint's generation_config.json (greedy). expected.safetensors holds per case <c>:
  input.<c>.input_ids, input.<c>.num_patches   (tiles per image, thumbnail included)
  input.<c>.pixel_index    uint8 [tiles, 3, H, W]: pixel_values as 8-bit indices into output.lut
                           (the generator asserts lut[ch][index] gives pixel_values bit for bit)
  output.lut               [3, 256] the processor's fused rescale + normalize of every 8-bit value
  output.<c>.image_embeds  model.model.get_image_features(pixel_values).pooler_output [tiles, tokens, hidden]
  output.<c>.logits        forward logits [1, L, V] (case "vqa"), else the last position's [1, V]
  output.<c>.generated_ids generate(**inputs, max_new_tokens=32) new tokens
and fixture.json holds each case's prompt text (apply_chat_template(tokenize=False)) and decoded answer.

The processor's outputs (text, input_ids, pixel_values, num_patches) are checked against transformers 4.53.1
(the reference's version: GotOcr2ImageProcessorFast) run in a subprocess with
PYTHONPATH=.venv/reference-tokenizers, when that copy is installed.

Every parameter is redrawn from a seeded generator (transformers' init leaves norms at 1, biases at 0 and
LayerScale at 0.1), so reruns write identical files.

usage: .venv/bin/python tests/oracles/models/make_internvl_fixtures.py
"""
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built here; never reach a hub

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import fixture_io  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models")
GENERATOR = "tests/oracles/models/make_internvl_fixtures.py"
WEIGHTS = "seeded random (torch.manual_seed; every parameter redrawn after the transformers init), float32"
NEW_TOKENS = 32
REFERENCE_TRANSFORMERS = os.path.join(SRC, ".venv", "reference-tokenizers")

# The published -hf chat template (transformers' convert_internvl_weights_to_hf.py; OpenGVLab/InternVL3-*-hf),
# as tests/text/data/chat_templates.json holds it.
with open(os.path.join(SRC, "tests", "text", "data", "chat_templates.json")) as f:
    CHAT_TEMPLATE = json.load(f)["internvl_hf"]

TILE = 56  # the published checkpoints use 448; 56 keeps the stored pixels small (4 x 4 patches of 14)
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
# preprocessor_config.json as GotOcr2ImageProcessorFast(...).save_pretrained writes it for the -hf checkpoints
# (the conversion script's write_image_processor), with this fixture's tile size.
PREPROCESSOR = {"crop_size": None, "crop_to_patches": False, "data_format": "channels_first", "default_to_square": True,
                "device": None, "do_center_crop": None, "do_convert_rgb": True, "do_normalize": True,
                "do_rescale": True, "do_resize": True, "image_mean": IMAGENET_MEAN,
                "image_processor_type": "GotOcr2ImageProcessorFast", "image_std": IMAGENET_STD,
                "input_data_format": None, "max_patches": 12, "min_patches": 1, "processor_class": "InternVLProcessor",
                "resample": 3, "rescale_factor": 0.00392156862745098, "return_tensors": None,
                "size": {"height": TILE, "width": TILE}}

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>",
            "<ref>", "</ref>", "<box>", "</box>", "<video>"]
MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "s"), ("Ġ", "i"), ("o", "n"), ("e", "r"),
          ("Ġ", "s"), ("i", "n"), ("a", "t"), ("Ġ", "c"), ("Ġ", "m"), ("e", "d"), ("Ġ", "p"), ("o", "r"),
          ("Ġ", "w"), ("Ġ", "r"), ("a", "l"), ("?", "Ċ")]

IMAGES = {
    "xray": "tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",  # 48 x 48 grey: one tile
    "wide": "tests/fixtures/models/qwen2_vl_images/wide_190x60.png",  # 3 x 1 tiles + thumbnail
    "tall": "tests/fixtures/models/internvl_images/tall_30x60.png",  # 1 x 2 tiles + thumbnail
}
SOURCE_PATCH = "tests/fixtures/datasets/Camelyon17/patches/patient_004_node_0/patch_patient_004_node_0_x_3328_y_21792.png"
VQA = "Is there evidence of pneumonia in the left lung?\nAnswer with a single word or phrase."
CAPTION = "Can you provide a medical report for this image?"
MULTI = "Which image shows tissue?\nA. first\nB. second\nAnswer with the single letter corresponding to the best choice."
CASES = [("vqa", ["wide"], VQA), ("caption", ["xray"], CAPTION), ("multi", ["tall", "wide"], MULTI)]


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
    # The -hf tokenizer (Qwen2.5-VL's, see write_tokenizer in the conversion script): eos <|im_end|>, pad
    # <|endoftext|>, no bos, and the image tokens as named extra special tokens the processor reads.
    tok = Qwen2Tokenizer(vocab=v, merges=MERGES, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None,
                         extra_special_tokens={"start_image_token": "<img>", "end_image_token": "</img>",
                                               "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"})
    tok.add_special_tokens({"additional_special_tokens": SPECIALS[1:]})
    tok.model_max_length = 8192
    return tok


def published_tokenizer_config():
    """tokenizer_config.json in the layout the -hf checkpoints ship (written by transformers 4.52, which both
    4.53.1 and 5.x read; transformers 5 would write extra_special_tokens as a list 4.53.1 cannot load)."""
    named = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
             "video_token": "<video>"}
    return {"add_prefix_space": False, "additional_special_tokens": SPECIALS[1:], "bos_token": None,
            "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>", "errors": "replace",
            "extra_special_tokens": named, "model_max_length": 8192, "pad_token": "<|endoftext|>",
            "processor_class": "InternVLProcessor", "split_special_tokens": False,
            "tokenizer_class": "Qwen2Tokenizer", "unk_token": None, **named}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith("bias") or "lambda_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1 + (0.5 if "lambda_" in name else 0.0))
            elif "embed_tokens" in name or "cls_token" in name or "position_embeddings" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            else:
                assert p.dim() >= 2, name
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * fan_in ** -0.5)


def text_config(tok, tie):
    ids = {s: tok.convert_tokens_to_ids(s) for s in SPECIALS}
    return dict(model_type="qwen2", vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=1, hidden_act="silu", max_position_embeddings=4096,
                rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], use_sliding_window=False,
                sliding_window=None, max_window_layers=2, tie_word_embeddings=tie, torch_dtype="float32")


def vision_config(kind):
    base = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, hidden_act="gelu",
                image_size=[TILE, TILE], patch_size=[14, 14], layer_norm_eps=1e-6, layer_scale_init_value=0.1,
                use_absolute_position_embeddings=True, use_mask_token=False)
    if kind == "internvl":  # InternViT-300M-448px-V2.5 (InternVL3-1B ... 14B): qkv bias, LayerNorm, mean pooling
        base.update(attention_bias=True, use_qk_norm=False, norm_type="layer_norm", use_mean_pooling=True)
    else:  # InternViT-6B (InternVL3-38B / 78B): no qkv bias, RMSNorm, QK-norm; here also the final layernorm
        base.update(attention_bias=False, use_qk_norm=True, norm_type="rms_norm", use_mean_pooling=False)
    return base


def generation_config(tok):
    # The -hf checkpoints' generation_config.json: bos / eos only, so generate() is greedy.
    return {"_from_model_config": True, "bos_token_id": tok.convert_tokens_to_ids("<|endoftext|>"),
            "eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"), "transformers_version": "4.52.0.dev0"}


def make_images():
    d = os.path.join(ROOT, "internvl_images")
    os.makedirs(d, exist_ok=True)
    src = Image.open(os.path.join(SRC, SOURCE_PATCH)).convert("RGB")
    src.resize((30, 60), Image.BICUBIC).save(os.path.join(SRC, IMAGES["tall"]))


def open_image(key):
    return Image.open(os.path.join(SRC, IMAGES[key])).convert("RGB")


def lut_for(image_processor):
    """The processor's own rescale + normalize of every 8-bit value (its fused torchvision path)."""
    ramp = torch.arange(256, dtype=torch.uint8).view(1, 1, 1, 256).expand(1, 3, 1, 256).contiguous()
    x = image_processor.rescale_and_normalize(ramp, True, image_processor.rescale_factor, True,
                                              image_processor.image_mean, image_processor.image_std)
    return x[0, :, 0, :].float().contiguous()


def pixel_index(pixel_values, lut):
    """uint8 [tiles, 3, H, W], checked to reproduce pixel_values exactly."""
    pv = pixel_values.numpy()
    idx = np.zeros(pv.shape, dtype=np.uint8)
    for c in range(3):
        table = lut[c].numpy()
        assert np.all(np.diff(table) > 0)
        idx[:, c] = np.searchsorted(table, pv[:, c])
        assert np.array_equal(table[idx[:, c]], pv[:, c]), "pixel values are not lut values"
    return torch.from_numpy(idx)


def messages_for(image_keys, prompt):
    content = [{"type": "image", "image": open_image(k)} for k in image_keys]
    content.append({"type": "text", "text": prompt})
    return [{"role": "user", "content": content}]


def run_case(model, processor, lut, name, image_keys, prompt, full):
    messages = messages_for(image_keys, prompt)
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt")
    # num_patches per image: the processor pops it; the image processor reports it.
    num_patches = processor.image_processor([open_image(k) for k in image_keys], crop_to_patches=True,
                                            return_tensors="pt")["num_patches"]
    with torch.no_grad():
        feats = model.model.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output
        logits = model(**inputs).logits
        out = model.generate(**inputs, max_new_tokens=NEW_TOKENS) if full else None
    tensors_in = {f"{name}.input_ids": inputs["input_ids"], f"{name}.num_patches": torch.tensor(num_patches),
                  f"{name}.pixel_index": pixel_index(inputs["pixel_values"], lut)}
    tensors_out = {f"{name}.image_embeds": feats, f"{name}.logits": logits if name == "vqa" else logits[:, -1]}
    info = {"images": [IMAGES[k] for k in image_keys], "prompt": prompt, "text": text,
            "image_tokens": int((inputs["input_ids"] == model.config.image_token_id).sum())}
    if full:
        new = out[0, inputs["input_ids"].shape[1]:]
        answer = processor.decode(new, skip_special_tokens=True)
        tensors_out[f"{name}.generated_ids"] = new
        info.update(answer=answer.strip(), new_tokens=int(new.numel()))
        print(name, "tiles", num_patches.tolist() if hasattr(num_patches, "tolist") else num_patches,
              "L", inputs["input_ids"].shape[1], "new", new.tolist())
    return tensors_in, tensors_out, info


REFERENCE_SCRIPT = r"""
import json, sys, torch
from PIL import Image
from transformers import AutoProcessor
folder, cases = sys.argv[1], json.loads(sys.argv[2])
processor = AutoProcessor.from_pretrained(folder)
out = {"image_processor": type(processor.image_processor).__name__}
for name, paths, prompt in cases:
    content = [{"type": "image", "image": Image.open(p).convert("RGB")} for p in paths]
    content.append({"type": "text", "text": prompt})
    messages = [{"role": "user", "content": content}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt")
    torch.save({"input_ids": inputs["input_ids"], "pixel_values": inputs["pixel_values"]}, f"{folder}/.ref_{name}.pt")
    out[name] = text
print(json.dumps(out))
"""


def check_against_reference_version(out, cases_run):
    """The processor of transformers 4.53.1 (the reference's pin) gives the same text, ids and pixels."""
    if not os.path.isdir(os.path.join(REFERENCE_TRANSFORMERS, "transformers")):
        print("note: transformers 4.53.1 copy missing at", REFERENCE_TRANSFORMERS, "- reference-version check skipped")
        return None
    args = [[n, [os.path.join(SRC, IMAGES[k]) for k in keys], p] for n, keys, p in CASES]
    env = dict(os.environ, PYTHONPATH=REFERENCE_TRANSFORMERS)
    r = subprocess.run([sys.executable, "-c", REFERENCE_SCRIPT, out, json.dumps(args)], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    ref = json.loads(r.stdout.strip().splitlines()[-1])
    assert ref["image_processor"] == "GotOcr2ImageProcessorFast", ref["image_processor"]
    for name, (text, inputs) in cases_run.items():
        got = torch.load(os.path.join(out, f".ref_{name}.pt"))
        os.remove(os.path.join(out, f".ref_{name}.pt"))
        assert ref[name] == text, (name, ref[name], text)
        assert torch.equal(got["input_ids"], inputs["input_ids"]), name
        assert torch.equal(got["pixel_values"], inputs["pixel_values"]), name
    print("transformers 4.53.1 processor (GotOcr2ImageProcessorFast) agrees on text, input_ids and pixel_values")
    return "4.53.1"


def build(kind, seed):
    from transformers import (AutoTokenizer, GotOcr2ImageProcessor, InternVLConfig, InternVLForConditionalGeneration,
                              InternVLProcessor, InternVLVideoProcessor)
    out = os.path.join(ROOT, kind)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    tok = make_tokenizer()
    tok.save_pretrained(out)
    tok.backend_tokenizer.model.save(out)  # vocab.json + merges.txt, as the Hub folders ship them
    write_json(os.path.join(out, "tokenizer_config.json"), published_tokenizer_config())
    write_json(os.path.join(out, "chat_template.json"), {"chat_template": CHAT_TEMPLATE})
    write_json(os.path.join(out, "preprocessor_config.json"), PREPROCESSOR)
    seq = (TILE // 14) ** 2 // 4
    write_json(os.path.join(out, "processor_config.json"), {"image_seq_length": seq,
                                                            "processor_class": "InternVLProcessor"})
    tie = kind != "internvl"  # the published 8B is untied (Qwen2.5-7B); the 1B ties (Qwen2.5-0.5B)
    cfg = InternVLConfig(text_config=text_config(tok, tie), vision_config=vision_config(kind),
                         image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"), image_seq_length=seq,
                         downsample_ratio=0.5, projector_hidden_act="gelu",
                         vision_feature_layer=-1 if kind == "internvl" else -2,
                         vision_feature_select_strategy="default", tie_word_embeddings=tie)
    torch.manual_seed(seed)
    model = InternVLForConditionalGeneration(cfg).eval()
    redraw(model, seed)
    if tie:
        model.tie_weights()
    model.save_pretrained(out)
    write_json(os.path.join(out, "generation_config.json"), generation_config(tok))

    model = InternVLForConditionalGeneration.from_pretrained(out, attn_implementation="eager",
                                                             dtype=torch.float32).eval()
    image_processor = GotOcr2ImageProcessor.from_pretrained(out)  # the torchvision backend (the -hf "Fast" one)
    processor = InternVLProcessor(image_processor=image_processor, tokenizer=AutoTokenizer.from_pretrained(out),
                                  video_processor=InternVLVideoProcessor(), image_seq_length=seq,
                                  chat_template=CHAT_TEMPLATE)
    print(kind, type(processor.image_processor).__name__, "generation_config", model.generation_config.to_diff_dict())
    lut = lut_for(processor.image_processor)
    inputs, outputs, cases, raw = {}, {"lut": lut}, {}, {}
    for name, keys, prompt in CASES:
        full = kind == "internvl"
        i, o, info = run_case(model, processor, lut, name, keys, prompt, full)
        inputs.update(i)
        outputs.update(o)
        cases[name] = info
        msgs = messages_for(keys, prompt)
        raw[name] = (info["text"], processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                                                 return_dict=True, return_tensors="pt"))
    fixture_io.save_expected(out, inputs, outputs)
    reference = check_against_reference_version(out, raw)
    return out, cases, model.generation_config.to_diff_dict(), reference


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
    check_pins("transformers", "tokenizers", "torchvision", "pillow")
    make_images()
    oracle = ("transformers InternVLForConditionalGeneration.from_pretrained(attn_implementation='eager', "
              "dtype=float32): model.model.get_image_features(pixel_values).pooler_output, forward().logits, "
              "generate(**inputs, max_new_tokens=32) with the folder's generation_config.json (greedy); inputs from "
              "InternVLProcessor(GotOcr2ImageProcessor (torchvision backend), the folder's tokenizer, image_seq_length, "
              "the -hf chat template).apply_chat_template(messages, add_generation_prompt=True, tokenize=True, "
              "return_dict=True), messages = [{'role': 'user', 'content': [image..., text]}] with "
              "Image.open(path).convert('RGB'); the processor's text / ids / pixels also checked against transformers "
              "4.53.1's GotOcr2ImageProcessorFast")
    tolerance = {"logits_fp32": 1e-4, "image_embeds_fp32": 1e-4, "pixel_values": "exact", "input_ids": "exact",
                 "generated_ids": "exact", "prompt_text": "exact"}
    for kind, seed in (("internvl", 21), ("internvl_qk", 22)):
        kept = measured(os.path.join(ROOT, kind))
        out, cases, gen, reference = build(kind, seed)
        library = fixture_io.versions("transformers", "tokenizers", "torchvision", "pillow")
        if reference:
            library["transformers_reference_processor"] = reference
        fixture_io.write_fixture_json(
            out, generator=GENERATOR, library=library, oracle=oracle, weights=WEIGHTS, tolerance=tolerance,
            cases=cases, generation_config=gen, **kept,
            format="transformers InternVLForConditionalGeneration.save_pretrained (model.safetensors), -hf layout")
        print("wrote", out)


if __name__ == "__main__":
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    main()
