#!/usr/bin/python3
"""Pillow oracle for tests/vision/jpeg_decode_test.cpp (Debian's /usr/bin/python3 with apt's
python3-pil and python3-numpy).

usage: jpeg_oracle.py DIR
Writes the JPEG variants with PIL into DIR (every chroma subsampling, baseline and progressive,
grayscale, CMYK, sizes that are not whole MCUs, an EXIF orientation, a truncated file) and, for
each, PIL's Image.open(f).convert("RGB") bytes next to it (<name>.ref), printing
"<name> <width> <height>" per file, or "<name> refused" when PIL raises.
"""
import sys

import numpy as np
from PIL import Image


def main(d):
    rng = np.random.default_rng(3)

    def photo(w, h):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([(x * 3 + y) % 256, (y * 2 + 40) % 256, (x + y * 5) % 256], -1).astype(np.int32)
        return np.clip(base + rng.integers(-30, 30, (h, w, 3)), 0, 255).astype(np.uint8)

    files = {}
    rgb = Image.fromarray(photo(53, 37))
    files["s444.jpg"] = (rgb, dict(quality=90, subsampling=0))
    files["s422.jpg"] = (rgb, dict(quality=90, subsampling=1))
    files["s420.jpg"] = (rgb, dict(quality=75, subsampling=2))
    files["s420_odd.jpg"] = (Image.fromarray(photo(131, 67)), dict(quality=85, subsampling=2))
    files["progressive.jpg"] = (Image.fromarray(photo(96, 81)), dict(quality=80, progressive=True, subsampling=2))
    files["progressive444.jpg"] = (rgb, dict(quality=95, progressive=True, subsampling=0, optimize=True))
    files["gray.jpg"] = (Image.fromarray(photo(45, 29)[..., 1]), dict(quality=90))
    files["gray_progressive.jpg"] = (Image.fromarray(photo(45, 29)[..., 2]), dict(quality=70, progressive=True))
    files["cmyk.jpg"] = (Image.fromarray(np.dstack([photo(33, 21), photo(33, 21)[..., :1]]), "CMYK"),
                         dict(quality=90))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 on display
    files["exif_rotated.jpg"] = (Image.fromarray(photo(40, 24)), dict(quality=90, exif=exif.tobytes()))
    for name, (im, kw) in files.items():
        im.save(f"{d}/{name}", **kw)
    whole = open(f"{d}/s420_odd.jpg", "rb").read()
    open(f"{d}/truncated.jpg", "wb").write(whole[: len(whole) // 2])
    for name in list(files) + ["truncated.jpg"]:
        try:
            im = Image.open(f"{d}/{name}").convert("RGB")
        except OSError:
            print(name, "refused")
            continue
        open(f"{d}/{name}.ref", "wb").write(im.tobytes())
        print(name, im.size[0], im.size[1])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: jpeg_oracle.py DIR")
    main(sys.argv[1])
