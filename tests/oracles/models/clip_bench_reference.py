#!/usr/bin/env python3
"""What bench/clip_bench.cpp compares its CLIP vision forward against: transformers' CLIPModel
(attn_implementation="eager", fp32, no_grad) on the same checkpoint and pixels, timed best of REPS.

usage: .venv/bin/python clip_bench_reference.py CHECKPOINT PIXELS.safetensors OUT.safetensors REPS
                                                THREADS [--openblas-single]
  THREADS > 0 sets torch.set_num_threads (0 keeps torch's default); --openblas-single also limits
  OpenBLAS to one thread (our nn/cpu_threads.h policy; a no-op where torch does not use OpenBLAS).
Prints "<torch threads> <best seconds>"; writes get_image_features(pixel_values).pooler_output to OUT
as "image_embeds" so the bench can report the difference, too.
"""
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import CLIPModel  # noqa: E402


def main():
    if len(sys.argv) not in (6, 7):
        sys.exit(__doc__)
    ckpt, pixels, out, reps, threads = sys.argv[1:6]
    if len(sys.argv) == 7:
        assert sys.argv[6] == "--openblas-single", sys.argv[6]
        try:
            import ctypes
            ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(1)
        except OSError:
            pass  # the wheel's torch brings MKL / its own BLAS, not the system OpenBLAS
    if int(threads) > 0:
        torch.set_num_threads(int(threads))
    model = CLIPModel.from_pretrained(ckpt, attn_implementation="eager", dtype=torch.float32).eval()
    px = load_file(pixels)["pixel_values"]
    best = float("inf")
    with torch.no_grad():
        model.get_image_features(pixel_values=px[:2])  # warm-up
        for _ in range(int(reps)):
            t = time.perf_counter()
            feats = model.get_image_features(pixel_values=px).pooler_output
            best = min(best, time.perf_counter() - t)
    save_file({"image_embeds": feats.contiguous()}, out)
    print(torch.get_num_threads(), best)


if __name__ == "__main__":
    main()
