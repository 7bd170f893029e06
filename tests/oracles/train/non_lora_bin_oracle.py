"""Whether the non_lora_trainables.bin medvlmbench writes beside a LLaVA adapter loads as the reference
loads it, for tests/train/generative_lora_test.cpp. torch >= 2.6 defaults torch.load to
weights_only=True, which refuses pickles that name anything but tensors and plain containers.

Usage: non_lora_bin_oracle.py RUN_DIR MODEL_DIR OUT.json
  1. torch.load(RUN_DIR/non_lora_trainables.bin, map_location="cpu", weights_only=True) (explicitly, and
     also with the default, as the reference's model/llava.py calls it);
  2. the reference's key handling (model/llava.py, Nanboy-Ronan/MedVLMBench@6a7142b lines 409-429):
     strip "base_model.", then "model." when keys start with "model.model.", then
     model.load_state_dict(..., strict=False) into LlavaForConditionalGeneration.from_pretrained(MODEL_DIR);
  3. the values against non_lora_trainables.safetensors (the same tensors under the published names).
Writes {"keys", "unexpected_keys", "loaded_equal", "matches_safetensors"}.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from safetensors.torch import load_file


def main():
    run_dir, model_dir, out = sys.argv[1:4]
    path = os.path.join(run_dir, "non_lora_trainables.bin")
    explicit = torch.load(path, map_location="cpu", weights_only=True)
    default = torch.load(path, map_location="cpu")  # the reference's call; weights_only by default in torch >= 2.6
    assert type(explicit) is dict and explicit.keys() == default.keys()
    # model/llava.py's loader
    nlt = {(k[11:] if k.startswith("base_model.") else k): v for k, v in explicit.items()}
    if any(k.startswith("model.model.") for k in nlt):
        nlt = {(k[6:] if k.startswith("model.") else k): v for k, v in nlt.items()}
    from transformers import LlavaForConditionalGeneration
    model = LlavaForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32)
    result = model.load_state_dict(nlt, strict=False)
    sd = model.state_dict()
    loaded_equal = all(k in sd and torch.equal(sd[k], v) for k, v in nlt.items())
    st = load_file(os.path.join(run_dir, "non_lora_trainables.safetensors"))
    matches = sorted(k[len("base_model.model."):] for k in explicit) == sorted(st) and all(
        torch.equal(v, st[k[len("base_model.model."):]]) for k, v in explicit.items())
    json.dump({"torch": torch.__version__, "keys": sorted(explicit), "unexpected_keys": list(result.unexpected_keys),
               "loaded_equal": loaded_equal, "matches_safetensors": matches}, open(out, "w"), indent=1)
    print(f"{len(explicit)} tensors, unexpected {list(result.unexpected_keys)}, equal {loaded_equal}")


if __name__ == "__main__":
    main()
