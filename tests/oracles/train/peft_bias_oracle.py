"""PEFT's handling of LoRA bias training (LoraConfig bias="all" / "lora_only"), for
tests/train/generative_lora_test.cpp: which tensors PEFT itself saves in adapter_model.safetensors
and marks trainable for the adapter's config, and one training step of the adapter medvlmbench saved,
loaded with PeftModel.from_pretrained(is_trainable=True).

Usage: peft_bias_oracle.py FAMILY MODEL_DIR ADAPTER_DIR BATCH.safetensors OUT.safetensors OUT.json
  (FAMILY and BATCH as lora_step_oracle.py takes them)
OUT.json: {"saved_keys": keys of a fresh get_peft_model(...).save_pretrained() for the same
LoraConfig, "trainable": its trainable non-LoRA parameters (adapter name removed)}.
OUT.safetensors: "loss", and per trainable non-LoRA parameter of the loaded adapter "value:<name>" and
"grad:<name>".
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open
from safetensors.torch import load_file, save_file


def main():
    family, model_dir, adapter_dir, batch_path, out_path, out_json = sys.argv[1:7]
    if family == "llava":
        from transformers import LlavaForConditionalGeneration as cls
    else:
        from transformers import Qwen2VLForConditionalGeneration as cls
    c = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    load = lambda: cls.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    fresh = get_peft_model(load(), LoraConfig(r=c["r"], lora_alpha=c["lora_alpha"], lora_dropout=0.0,
                                              target_modules=c["target_modules"], bias=c["bias"]))
    trainable = sorted(n.replace(".default", "") for n, p in fresh.named_parameters()
                       if p.requires_grad and "lora_" not in n)
    with tempfile.TemporaryDirectory() as d:
        fresh.save_pretrained(d)
        with safe_open(os.path.join(d, "adapter_model.safetensors"), "pt") as f:
            saved = sorted(f.keys())
    json.dump({"saved_keys": saved, "trainable": trainable}, open(out_json, "w"), indent=1)

    b = load_file(batch_path)
    model = PeftModel.from_pretrained(load(), adapter_dir, is_trainable=True)
    model.train()  # dropout 0 in the test
    kwargs = dict(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"],
                  pixel_values=b["pixel_values"])
    if family != "llava":
        kwargs["image_grid_thw"] = b["image_grid_thw"]
        kwargs["mm_token_type_ids"] = (b["input_ids"] == model.config.image_token_id).long()
    out = model(**kwargs)
    out.loss.backward()
    res = {"loss": out.loss.detach().reshape(1)}
    for n, p in model.named_parameters():
        if p.requires_grad and "lora_" not in n:
            n = n.replace(".default", "")
            res["value:" + n] = p.detach().contiguous()
            res["grad:" + n] = p.grad.detach().contiguous()
    save_file(res, out_path)
    print(f"loss {out.loss.item():.6f}; {len(saved)} saved keys, {len(trainable)} trainable non-LoRA")


if __name__ == "__main__":
    main()
