#!/usr/bin/env python3
"""What bench/lora_step_bench.cpp compares a LoRA training step against: transformers +
PEFT on CPU, fp32, the same random LLaVA-shaped model (made by
tests/oracles/models/generation_bench_reference.py make), the same batch, the same LoRA targets and
rank, torch.optim.AdamW over the adapters; one step = forward + backward + optimizer step + zero_grad.

usage: lora_step_bench_reference.py MODEL_DIR BATCH.safetensors TARGETS.json RESULT.json STEPS THREADS
  BATCH: input_ids / attention_mask / labels [B, L] (image tokens expanded) and pixel_values.
  TARGETS.json: {"target_modules": [...], "r": int, "lora_alpha": float}.
Writes {"step_s" (median of STEPS after one warm-up), "tokens_per_s", "tokens", "loss",
"peak_rss_growth_mb" (VmHWM over the warm-up and timed steps after /proc/self/clear_refs, against VmRSS
before)}.
"""
import ctypes
import gc
import json
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def blas():
    """The BLAS torch's fp32 products run on (torch.__config__.show() names it)."""
    cfg = torch.__config__.show()
    for key in ("BLAS_INFO=", "LAPACK_INFO="):
        if key in cfg:
            name = cfg.split(key, 1)[1].split(",", 1)[0].strip()
            return name + (" (MKL available)" if torch.backends.mkl.is_available() else "")
    return "MKL" if torch.backends.mkl.is_available() else "unknown"


def main():
    model_dir, batch_path, targets_path, out, steps, threads = sys.argv[1:7]
    steps, threads = int(steps), int(threads)
    if threads > 0:
        torch.set_num_threads(threads)
    from peft import LoraConfig, get_peft_model
    from transformers import LlavaForConditionalGeneration
    t = json.load(open(targets_path))
    model = LlavaForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    model = get_peft_model(model, LoraConfig(r=t["r"], lora_alpha=t["lora_alpha"], lora_dropout=0.0,
                                             target_modules=t["target_modules"], task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.0)
    b = load_file(batch_path)
    tokens = int(b["attention_mask"].sum())

    def step():
        out = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=b["labels"],
                    pixel_values=b["pixel_values"])
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss.item()

    # Memory from before the warm-up step, as the C++ side measures it (after it, freed memory stays
    # resident and is reused, and growth reads ~0); free heap memory goes back to the OS first.
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        can_peak = True
    except OSError:
        can_peak = False
    rss0 = status_kb("VmRSS")
    loss = step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    json.dump({"step_s": step_s, "tokens": tokens, "tokens_per_s": tokens / step_s, "loss": loss,
               "peak_rss_growth_mb": (status_kb("VmHWM") - rss0) / 1024 if can_peak else -1,
               "threads": torch.get_num_threads(), "torch": torch.__version__, "blas": blas()}, open(out, "w"))


if __name__ == "__main__":
    main()
