#!/usr/bin/python3
"""Pillow oracle for tests/vision/pil_parity_test.cpp (Debian's /usr/bin/python3 with apt's
python3-pil and python3-numpy: the Pillow every reference processor resizes with).

usage: pil_oracle.py COMMAND DIR
  resample    DIR/cases.json [{i, w, h, ow, oh, f}]: DIR/in<i> (raw RGB) resized with PIL's filter f
              -> DIR/out<i> (raw RGB)
  decode      writes PNG/TIFF/JPEG/BMP variants into DIR with PIL, and PIL's convert("RGB") of each
              to DIR/<name>.ref; prints "<name> <width> <height>" per file
  processors  DIR/cases.json [{i, w, h, cfg}]: the CLIP/SigLIP/BLIP/LLaVA-pad pipelines (a NumPy
              transcription of transformers' image_transforms and LLaVA's expand2square)
              -> DIR/out<i> (float32 CHW)
  internvl    DIR/cases.json [{i, w, h}]: InternVL's dynamic_preprocess (1..6 tiles of 64, thumbnail)
              -> DIR/out<i> (raw RGB tiles, concatenated); prints the tile count per case
"""
import json
import math
import sys

import numpy as np
from PIL import Image


def load(path, w, h):
    return Image.frombytes("RGB", (w, h), open(path, "rb").read())


def resample(d):
    F = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS,
         "box": Image.BOX, "hamming": Image.HAMMING}
    for c in json.load(open(d + "/cases.json")):
        im = load(f"{d}/in{c['i']}", c["w"], c["h"])
        open(f"{d}/out{c['i']}", "wb").write(im.resize((c["ow"], c["oh"]), F[c["f"]]).tobytes())


def decode(d):
    # 16-bit grayscale is the interesting case: PIL's convert("RGB") clips values above 255 instead
    # of rescaling.
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (41, 29), dtype=np.uint8)
    g16 = rng.integers(0, 1024, (23, 31), dtype=np.uint16)
    Image.fromarray(rgb).save(d + "/rgb.png")
    Image.fromarray(gray).save(d + "/gray.png")
    Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(d + "/rgba.png")
    Image.fromarray(g16).save(d + "/g16.png")
    Image.fromarray(g16).save(d + "/g16.tif")
    Image.fromarray(rgb).save(d + "/rgb.tif")
    Image.fromarray(rgb).save(d + "/q.jpg", quality=87)
    Image.fromarray(gray).save(d + "/gray.jpg", quality=90)
    Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16).save(d + "/pal.png")
    Image.fromarray(rgb).save(d + "/rgb.bmp")
    for n in ["rgb.png", "gray.png", "rgba.png", "g16.png", "g16.tif", "rgb.tif", "q.jpg", "gray.jpg", "pal.png",
              "rgb.bmp"]:
        im = Image.open(d + "/" + n).convert("RGB")
        open(d + "/" + n + ".ref", "wb").write(im.tobytes())
        print(n, im.size[0], im.size[1])


def expand2square(pil_img, background_color):  # LLaVA llava/mm_utils.py
    width, height = pil_img.size
    if width == height:
        return pil_img
    elif width > height:
        result = Image.new(pil_img.mode, (width, width), background_color)
        result.paste(pil_img, (0, (width - height) // 2))
        return result
    else:
        result = Image.new(pil_img.mode, (height, height), background_color)
        result.paste(pil_img, ((height - width) // 2, 0))
        return result


def center_crop(image, size):  # transformers image_transforms.center_crop, channels-last
    oh, ow = image.shape[:2]
    ch, cw = size
    top = (oh - ch) // 2
    bottom = top + ch
    left = (ow - cw) // 2
    right = left + cw
    if top >= 0 and bottom <= oh and left >= 0 and right <= ow:
        return image[top:bottom, left:right]
    nh, nw = max(ch, oh), max(cw, ow)
    new = np.zeros((nh, nw) + image.shape[2:], dtype=image.dtype)
    tp = math.ceil((nh - oh) / 2)
    lp = math.ceil((nw - ow) / 2)
    new[tp:tp + oh, lp:lp + ow] = image
    top += tp
    bottom += tp
    left += lp
    right += lp
    return new[max(0, top):min(nh, bottom), max(0, left):min(nw, right)]


def processors(d):
    for c in json.load(open(d + "/cases.json")):
        cfg = c["cfg"]
        im = load(f"{d}/in{c['i']}", c["w"], c["h"])
        mean = cfg.get("image_mean", [0.48145466, 0.4578275, 0.40821073])
        std = cfg.get("image_std", [0.26862954, 0.26130258, 0.27577711])
        if cfg.get("pad"):
            im = expand2square(im, tuple(int(x * 255) for x in mean))
        size = cfg["size"]
        rs = cfg.get("resample", 3)
        clip = "CLIP" in cfg.get("image_processor_type", cfg.get("feature_extractor_type", ""))
        if isinstance(size, int):
            size = {"shortest_edge": size} if clip else {"height": size, "width": size}
        if "shortest_edge" in size:
            w, h = im.size
            short, long = (w, h) if w <= h else (h, w)
            s = size["shortest_edge"]
            nl = int(s * long / short)
            im = im.resize((s, nl) if w <= h else (nl, s), rs)
        else:
            im = im.resize((size["width"], size["height"]), rs)
        a = np.array(im)
        if cfg.get("do_center_crop"):
            cs = cfg["crop_size"]
            cs = (cs, cs) if isinstance(cs, int) else (cs["height"], cs["width"])
            a = center_crop(a, cs)
        a = (a.astype(np.float64) * cfg.get("rescale_factor", 1 / 255)).astype(np.float32)
        a = (a - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
        open(f"{d}/out{c['i']}", "wb").write(np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.float32).tobytes())


# InternVL's dynamic_preprocess (README / chat code), verbatim apart from the PIL import.
def find_closest_aspect_ratio(aspect_ratio, target_ratios, width, height, image_size):
    best_ratio_diff = float('inf')
    best_ratio = (1, 1)
    area = width * height
    for ratio in target_ratios:
        target_aspect_ratio = ratio[0] / ratio[1]
        ratio_diff = abs(aspect_ratio - target_aspect_ratio)
        if ratio_diff < best_ratio_diff:
            best_ratio_diff = ratio_diff
            best_ratio = ratio
        elif ratio_diff == best_ratio_diff:
            if area > 0.5 * image_size * image_size * ratio[0] * ratio[1]:
                best_ratio = ratio
    return best_ratio


def dynamic_preprocess(image, min_num=1, max_num=12, image_size=448, use_thumbnail=False):
    orig_width, orig_height = image.size
    aspect_ratio = orig_width / orig_height
    target_ratios = set((i, j) for n in range(min_num, max_num + 1) for i in range(1, n + 1) for j in range(1, n + 1)
                        if i * j <= max_num and i * j >= min_num)
    target_ratios = sorted(target_ratios, key=lambda x: x[0] * x[1])
    target_aspect_ratio = find_closest_aspect_ratio(aspect_ratio, target_ratios, orig_width, orig_height, image_size)
    target_width = image_size * target_aspect_ratio[0]
    target_height = image_size * target_aspect_ratio[1]
    blocks = target_aspect_ratio[0] * target_aspect_ratio[1]
    resized_img = image.resize((target_width, target_height))
    processed_images = []
    for i in range(blocks):
        box = ((i % (target_width // image_size)) * image_size, (i // (target_width // image_size)) * image_size,
               ((i % (target_width // image_size)) + 1) * image_size,
               ((i // (target_width // image_size)) + 1) * image_size)
        processed_images.append(resized_img.crop(box))
    if use_thumbnail and len(processed_images) != 1:
        processed_images.append(image.resize((image_size, image_size)))
    return processed_images


def internvl(d):
    for c in json.load(open(d + "/cases.json")):
        tiles = dynamic_preprocess(load(f"{d}/in{c['i']}", c["w"], c["h"]), 1, 6, 64, True)
        open(f"{d}/out{c['i']}", "wb").write(b"".join(t.tobytes() for t in tiles))
        print(len(tiles))


COMMANDS = {"resample": resample, "decode": decode, "processors": processors, "internvl": internvl}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: pil_oracle.py {" + ",".join(COMMANDS) + "} DIR")
    COMMANDS[sys.argv[1]](sys.argv[2])
