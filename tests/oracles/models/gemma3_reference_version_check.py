#!/usr/bin/env python3
"""The Gemma3 fixture (tests/fixtures/models/gemma3, made with transformers 5.23) under the reference's transformers
4.53.1: the published config layout (published/config.json) and the published tensor names
(vision_tower.vision_model.*) load there, AutoProcessor picks the slow Gemma3ImageProcessor, and input ids and
forward logits equal the stored 5.23 outputs exactly. Greedy ids equal them with a dynamic cache; with the
checkpoint's cache_implementation "hybrid" (what 4.53.1's generate uses for the published checkpoints) they depart
once the sequence passes sliding_window + 1 tokens (the "caption" case: a 42-token prompt, window 48). Prints what
it finds; measured 2026-12-04: ids and logits equal (max |diff| 0.0) in all three cases, hybrid-cache ids differ
from the 8th new token of "caption", dynamic-cache ids equal.

usage (from the repository root):
  PYTHONPATH=.venv/reference-tokenizers .venv/bin/python tests/oracles/models/gemma3_reference_version_check.py
"""
import json
import os
import shutil
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
import transformers  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402


def main():
    print("transformers", transformers.__version__)
    src = "tests/fixtures/models/gemma3"
    tmp = tempfile.mkdtemp()
    for f in os.listdir(src):
        if f.endswith(".json") and f not in ("config.json", "fixture.json"):
            shutil.copy(os.path.join(src, f), tmp)
    shutil.copy(os.path.join(src, "published", "config.json"), tmp)
    sd = load_file(os.path.join(src, "model.safetensors"))
    published = {("vision_tower.vision_model." + k[len("vision_tower."):] if k.startswith("vision_tower.") else k): v
                 for k, v in sd.items()}
    save_file(published, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    from transformers import AutoProcessor, Gemma3ForConditionalGeneration
    model = Gemma3ForConditionalGeneration.from_pretrained(tmp, attn_implementation="eager",
                                                           torch_dtype=torch.float32).eval()
    proc = AutoProcessor.from_pretrained(tmp)
    print("image processor", type(proc.image_processor).__name__)
    fx = json.load(open(os.path.join(src, "fixture.json")))
    exp = load_file(os.path.join(src, "expected.safetensors"))
    for name, c in fx["cases"].items():
        imgs = [Image.open(p).convert("RGB") for p in c["images"]]
        msgs = [{"role": "user", "content": [*[{"type": "image", "image": im} for im in imgs],
                                             {"type": "text", "text": c["prompt"]}]}]
        inp = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=True,
                                       return_tensors="pt")
        with torch.no_grad():
            logits = model(**inp).logits
            hybrid = model.generate(**inp, max_new_tokens=32, do_sample=False)
            dynamic = model.generate(**inp, max_new_tokens=32, do_sample=False, cache_implementation="dynamic")
        e = exp["output." + name + ".logits"]
        d = (logits[0] - e[0]).abs().max() if e.dim() == 3 else (logits[0, -1] - e[0]).abs().max()
        want = exp["output." + name + ".generated_ids"]
        n = inp["input_ids"].shape[1]
        print(name, "input_ids equal", torch.equal(inp["input_ids"], exp["input." + name + ".input_ids"]),
              "logits max |diff|", float(d), "greedy equal: hybrid cache", torch.equal(hybrid[0, n:], want),
              "dynamic cache", torch.equal(dynamic[0, n:], want))


if __name__ == "__main__":
    main()
