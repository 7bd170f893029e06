"""Logits of a Hugging Face model folder in transformers (optionally with a PEFT LoRA adapter merged by
merge_and_unload), for tests/train/generative_lora_test.cpp: the full fine-tuning output and the
--merge_lora export must load in transformers and give the logits medvlmbench gives.

Usage: hf_logits_oracle.py FAMILY BATCH.safetensors OUT.safetensors MODEL_DIR [ADAPTER_DIR]
  FAMILY  llava (LlavaForConditionalGeneration) or qwen2_vl (Qwen2VLForConditionalGeneration)
  BATCH   input_ids / attention_mask [B, L] int64 (image placeholders expanded), pixel_values, and for
          qwen2_vl image_grid_thw (as lora_step_oracle.py takes it)
Writes "logits" [B, L, V] float32.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from safetensors.torch import load_file, save_file


def main():
    family, batch_path, out_path, model_dir = sys.argv[1:5]
    adapter = sys.argv[5] if len(sys.argv) > 5 else None
    b = load_file(batch_path)
    if family == "llava":
        from transformers import LlavaForConditionalGeneration as cls
    else:
        from transformers import Qwen2VLForConditionalGeneration as cls
    model = cls.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    if adapter:
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    kwargs = dict(input_ids=b["input_ids"], attention_mask=b["attention_mask"], pixel_values=b["pixel_values"])
    if family != "llava":
        kwargs["image_grid_thw"] = b["image_grid_thw"]
        kwargs["mm_token_type_ids"] = (b["input_ids"] == model.config.image_token_id).long()
    with torch.no_grad():
        logits = model(**kwargs).logits.float().contiguous()
    save_file({"logits": logits}, out_path)
    print(f"logits {tuple(logits.shape)}")


if __name__ == "__main__":
    main()
