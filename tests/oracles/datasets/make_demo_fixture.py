#!/usr/bin/env python3
"""Writes the bundled demo dataset: a tiny ChestXray (Kermany) folder of real PNG images.

Layout: tests/fixtures/demo/ChestXray/{train,val,test}/{NORMAL,PNEUMONIA}/*.png, the layout the
reference's ChestXray loader reads. Images are 48x48 grayscale "radiographs": NORMAL ones are a
smooth chest-like gradient with noise; PNEUMONIA ones add bright opacities in the lung fields, so a
model can learn the task. Deterministic (seeded). Run with Debian's /usr/bin/python3 (python3-pil).
"""
import os
import random
import sys

from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "demo", "ChestXray")
SIZE = 48
PER_CLASS = {"train": 6, "val": 2, "test": 6}


def make_image(rng, pneumonia):
    img = Image.new("L", (SIZE, SIZE))
    px = img.load()
    blobs = []
    if pneumonia:
        for _ in range(rng.randint(2, 3)):
            blobs.append((rng.uniform(10, 38), rng.uniform(14, 38), rng.uniform(5, 9)))
    for y in range(SIZE):
        for x in range(SIZE):
            # Dark lungs on both sides of a brighter mediastinum, brighter towards the bottom.
            d = abs(x - SIZE / 2) / (SIZE / 2)
            v = 150 - 90 * (d < 0.8) * (1 - abs(d - 0.45) * 2) + y * 0.8
            for bx, by, r in blobs:
                if (x - bx) ** 2 + (y - by) ** 2 < r * r:
                    v += 70
            v += rng.gauss(0, 8)
            px[x, y] = max(0, min(255, int(v)))
    return img


def main():
    rng = random.Random(20261125)
    for split, n in PER_CLASS.items():
        for label, folder in enumerate(["NORMAL", "PNEUMONIA"]):
            d = os.path.join(ROOT, split, folder)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                make_image(rng, label == 1).save(os.path.join(d, f"{folder.lower()}_{split}_{i:02d}.png"), optimize=True)
    print(f"wrote demo fixture under {os.path.normpath(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
