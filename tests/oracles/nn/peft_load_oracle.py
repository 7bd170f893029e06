#!/usr/bin/env python3
"""Live oracle: loads an adapter folder that OUR code wrote into PEFT itself, on the transformers CLIP
base it was trained on, and runs the adapted vision tower (tests/train/peft_lora_test.cpp).

  peft_load_oracle.py BASE_DIR ADAPTER_DIR INPUTS.safetensors OUT.safetensors

  model = CLIPModel.from_pretrained(BASE_DIR)
  model.vision_model = PeftModel.from_pretrained(model.vision_model, ADAPTER_DIR)  (eval mode)
  INPUTS: pixel_values [N, 3, H, W]
  OUT:    image_embeds (visual_projection(pooler_output)), vision_last_hidden_state, and
          lora_tensors (how many adapter tensors PEFT loaded, so a silently ignored file fails)
Run with the oracle environment (.venv/bin/python); PEFT refuses a folder whose keys it cannot place.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from peft import PeftModel  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import CLIPModel  # noqa: E402


def main(base_dir, adapter_dir, inputs, out):
    model = CLIPModel.from_pretrained(base_dir).eval()
    # is_trainable=False: inference, dropout off. PEFT warns (not fails) on missing keys, so count them.
    vision = PeftModel.from_pretrained(model.vision_model, adapter_dir).eval()
    n = sum(1 for name, _ in vision.named_parameters() if "lora_" in name)
    pixel_values = load_file(inputs)["pixel_values"]
    with torch.no_grad():
        o = vision(pixel_values=pixel_values)
        embeds = model.visual_projection(o.pooler_output)
    save_file({"image_embeds": embeds.contiguous(), "vision_last_hidden_state": o.last_hidden_state.contiguous(),
               "lora_tensors": torch.tensor([n])}, out)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
