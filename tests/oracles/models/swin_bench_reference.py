#!/usr/bin/env python3
"""What bench/swin_bench.cpp compares against: transformers' SwinModel (eager PyTorch, the oracle
environment's torch) on the weights and pixels the bench wrote, timed the same way.

usage: swin_bench_reference.py DIR THREADS
  DIR holds config.json + model.safetensors (SwinModel's checkpoint names, written by the C++ side) and
  pixels.safetensors ("pixel_values"); writes DIR/reference.safetensors ("pooler_output") and prints the
  seconds of one forward over the whole batch (after a warm-up on two images).
Run with the oracle environment (bash scripts/oracle_env.sh -> .venv/bin/python).
"""
import os
import sys
import time

import torch
from safetensors.torch import load_file, save_file


def main(folder, threads):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import SwinModel
    torch.set_num_threads(int(threads))
    model = SwinModel.from_pretrained(folder).eval()
    px = load_file(os.path.join(folder, "pixels.safetensors"))["pixel_values"]
    with torch.no_grad():
        model(pixel_values=px[:2])
        start = time.perf_counter()
        out = model(pixel_values=px).pooler_output
        seconds = time.perf_counter() - start
    save_file({"pooler_output": out.contiguous()}, os.path.join(folder, "reference.safetensors"))
    print(f"{seconds:.6f} {model.config._attn_implementation}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
