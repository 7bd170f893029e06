#!/usr/bin/python3
"""What bench/vision_bench.cpp compares against: python3-pil + numpy (Debian's /usr/bin/python3 with
apt's python3-pil and python3-numpy) doing the same CLIP preprocessing (shortest edge 224, bicubic,
center crop 224, rescale, normalise) of the same JPEGs in one process.

usage: vision_bench_reference.py DIR N
  reads DIR/img<i>.jpg for i < N; prints "wall_s cpu_s checksum" for the whole run, then the
  single-threaded CPU ms per image of open+decode, resize and rescale+normalise over the first
  min(N, 200) images.
"""
import sys
import time

import numpy as np
from PIL import Image


def main(d, n):
    mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
    t0 = time.perf_counter()
    c0 = time.process_time()
    s = 0.0
    for i in range(n):
        im = Image.open(f"{d}/img{i}.jpg").convert("RGB")
        w, h = im.size
        short, long = (w, h) if w <= h else (h, w)
        nl = int(224 * long / short)
        im = im.resize((224, nl) if w <= h else (nl, 224), Image.BICUBIC)
        a = np.array(im)
        H, W = a.shape[:2]
        top, left = (H - 224) // 2, (W - 224) // 2
        a = a[top:top + 224, left:left + 224]
        a = ((a.astype(np.float64) * (1 / 255)).astype(np.float32) - mean) / std
        a = a.transpose(2, 0, 1)
        s += float(a[0, 100, 100])
    print(time.perf_counter() - t0, time.process_time() - c0, s)
    m = min(n, 200)
    ph = [0.0, 0.0, 0.0]
    clock = time.process_time
    for i in range(m):
        c = clock()
        im = Image.open(f"{d}/img{i}.jpg").convert("RGB")
        ph[0] += clock() - c
        c = clock()
        im = im.resize((224, 224), Image.BICUBIC)
        ph[1] += clock() - c
        c = clock()
        a = np.array(im)
        a = ((a.astype(np.float64) * (1 / 255)).astype(np.float32) - mean) / std
        a = a.transpose(2, 0, 1)
        ph[2] += clock() - c
    print(*[1e3 * x / m for x in ph])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: vision_bench_reference.py DIR N")
    main(sys.argv[1], int(sys.argv[2]))
