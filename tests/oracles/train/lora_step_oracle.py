"""One LoRA training step in transformers + PEFT, for tests/train/generative_lora_test.cpp.

Usage: lora_step_oracle.py FAMILY MODEL_DIR ADAPTER_DIR BATCH.safetensors OUT.safetensors
  FAMILY      llava (LlavaForConditionalGeneration) or qwen2_vl (Qwen2VLForConditionalGeneration)
  ADAPTER_DIR the adapter medvlmbench wrote (adapter_config.json + adapter_model.safetensors), loaded
              with PeftModel.from_pretrained(is_trainable=True) so both sides start from the same A, B
  BATCH       input_ids / labels / attention_mask [B, L] int64 in transformers' form (image placeholders
              expanded), pixel_values, and for qwen2_vl image_grid_thw
Writes "loss" and, per adapter tensor, its gradient under adapter_model.safetensors' key names.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file


def main():
    family, model_dir, adapter_dir, batch_path, out_path = sys.argv[1:6]
    torch.manual_seed(0)
    b = load_file(batch_path)
    if family == "llava":
        from transformers import LlavaForConditionalGeneration as cls
    else:
        from transformers import Qwen2VLForConditionalGeneration as cls
    model = cls.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model = PeftModel.from_pretrained(model, adapter_dir, is_trainable=True)
    model.train()  # the adapters' dropout is 0 in the test, so train mode changes nothing else
    kwargs = dict(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"],
                  pixel_values=b["pixel_values"])
    if family != "llava":
        kwargs["image_grid_thw"] = b["image_grid_thw"]
        # What Qwen2VLProcessor returns beside input_ids in transformers 5: 1 at image tokens.
        kwargs["mm_token_type_ids"] = (b["input_ids"] == model.config.image_token_id).long()
    out = model(**kwargs)
    out.loss.backward()
    grads = {"loss": out.loss.detach().reshape(1)}
    for name, p in model.named_parameters():
        if p.requires_grad and p.grad is not None:
            grads[name.replace(".default", "")] = p.grad.detach().contiguous()
    save_file(grads, out_path)
    print(f"loss {out.loss.item():.6f}; {len(grads) - 1} gradients")


if __name__ == "__main__":
    main()
