#!/usr/bin/env python3
"""Expected outputs of the models' own transformers image processors, for tests/vision/processor_parity_test.cpp.

Run with the oracle environment (`bash scripts/oracle_env.sh`, then `.venv/bin/python <this file>`);
it needs no network and downloads nothing. It writes tests/fixtures/vision/processors/:

  images/<name>          small real image files (PNG/JPEG; RGB, grayscale, 16-bit grayscale, RGBA,
                         palette; odd sizes; wide, tall and very thin), made here with Pillow from a
                         seeded drawing so reruns give identical bytes;
  <checkpoint>/preprocessor_config.json
                         the published preprocessor_config.json values of the checkpoints the
                         reference (MedVLMBench) loads, written verbatim (source in CHECKPOINTS below);
  expected.safetensors   per case, the processor's pixel_values (plus image_grid_thw / num_patches);
  fixture.json           what ran, library versions, and the differences measured.

Each case is what the reference does with one image file: `Image.open(path).convert("RGB")` (its
datasets hand the models RGB images), then the checkpoint's image processor, loaded from the
preprocessor_config.json with AutoImageProcessor, called as the reference calls it (Qwen: after
qwen_vl_utils.fetch_image; InternVL: with crop_to_patches=True, InternVLProcessor's default; LLaVA:
LlavaImageProcessor do_pad, which is LLaVA's expand2square with int(mean * 255)).

Primary oracle: the PIL backend (`backend="pil"`, which is what `use_fast=False` selects in transformers
5 and the "slow" processors of transformers 4.x): resize through PIL, then numpy rescale/normalize.
The torchvision backend ("fast", the transformers 5 default) runs on the same inputs too; only its
largest difference from the PIL backend is recorded (fixture.json "fast_vs_pil_max_abs_diff").

Storage: a PIL-backend output value is a function of (channel, 8-bit pixel) only (rescale and normalize
are elementwise after an 8-bit PIL resize), so each pixel_values tensor is stored losslessly as an
8-bit index tensor `output.<case>.pixel_index` (the channel axis at dim 1) plus the checkpoint's table
`output.<checkpoint>.lut` [3, 256] of the values the processor's own rescale() + normalize() give each
8-bit value. The generator asserts lut[c][index] reproduces pixel_values bit for bit, so the C++ test
compares with the library's floats exactly while the fixtures stay a quarter of the float32 size.
"""
import argparse
import io
import json
import os
import sys

import numpy as np
import PIL
import torch
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import fixture_io  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import transformers  # noqa: E402
from transformers import AutoImageProcessor  # noqa: E402

try:
    import qwen_vl_utils  # noqa: E402
except ImportError:
    sys.exit("qwen_vl_utils is missing: install the oracle environment (bash scripts/oracle_env.sh, which "
             "installs qwen-vl-utils==0.0.10, the reference's version, with --no-deps: images need none of av)")

# Pillow 13 (python-pillow/Pillow#9549) runs the vertical pass first when a resize reduces the height by
# more than twice what it takes off the width; every earlier Pillow (Debian's 9.x, and the 10.x/11.x the
# reference ran under in 2025) always runs the horizontal pass first, and so does our C++ (the pass
# order changes the 8-bit rounding between the passes). Measured with pillow 13.0.0: 2 of these cases
# differ (qwen2vl_photo_wide 160x64 -> 168x56: 0.105 in 9700 of 56448 values; internvl_xray_tall's
# thumbnail 48x136 -> 32x32: 0.070 in 585 values); all others are identical.
if int(PIL.__version__.split(".")[0]) >= 13:
    sys.exit(f"pillow {PIL.__version__} resizes in a different pass order (Pillow#9549) than the reference's "
             "Pillow and ours: run with pillow==12.3.0 (tests/oracles/requirements.txt)")
PILLOW_13_MEASURED = {"qwen2vl_photo_wide": 0.10505437850952148, "internvl_xray_tall": 0.07002806663513184}

ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "vision", "processors"))
GENERATOR = "tests/oracles/vision/make_processor_fixtures.py"

OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# The published preprocessor_config.json of each checkpoint, verbatim (key order as published).
CHECKPOINTS = {
    # openai/clip-vit-base-patch16 (CLIP; PLIP vinid/plip and PubMedCLIP
    # flaviagiammarino/pubmed-clip-vit-base-patch32 publish the same values). The legacy
    # CLIPFeatureExtractor form: a bare int size means the shortest edge.
    "clip-vit-base-patch16": {
        "source": "huggingface.co/openai/clip-vit-base-patch16 preprocessor_config.json",
        "config": {
            "crop_size": 224,
            "do_center_crop": True,
            "do_normalize": True,
            "do_resize": True,
            "feature_extractor_type": "CLIPFeatureExtractor",
            "image_mean": OPENAI_CLIP_MEAN,
            "image_std": OPENAI_CLIP_STD,
            "resample": 3,
            "size": 224,
        },
    },
    # openai/clip-vit-large-patch14-336: the vision tower LLaVA-1.5 loads its processor from; the
    # reference pads to a square first (image_aspect_ratio "pad").
    "clip-vit-large-patch14-336": {
        "source": "huggingface.co/openai/clip-vit-large-patch14-336 preprocessor_config.json",
        "config": {
            "crop_size": 336,
            "do_center_crop": True,
            "do_normalize": True,
            "do_resize": True,
            "feature_extractor_type": "CLIPFeatureExtractor",
            "image_mean": OPENAI_CLIP_MEAN,
            "image_std": OPENAI_CLIP_STD,
            "resample": 3,
            "size": 336,
        },
    },
    "siglip-base-patch16-224": {
        "source": "huggingface.co/google/siglip-base-patch16-224 preprocessor_config.json",
        "config": {
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": [0.5, 0.5, 0.5],
            "image_processor_type": "SiglipImageProcessor",
            "image_std": [0.5, 0.5, 0.5],
            "processor_class": "SiglipProcessor",
            "resample": 3,
            "rescale_factor": 0.00392156862745098,
            "size": {"height": 224, "width": 224},
        },
    },
    "medsiglip-448": {
        "source": "huggingface.co/google/medsiglip-448 preprocessor_config.json (gated repo: values as "
                  "published on its model page; the hub is not reachable from the machines that run this)",
        "config": {
            "do_convert_rgb": None,
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": [0.5, 0.5, 0.5],
            "image_processor_type": "SiglipImageProcessor",
            "image_std": [0.5, 0.5, 0.5],
            "processor_class": "SiglipProcessor",
            "resample": 2,
            "rescale_factor": 0.00392156862745098,
            "size": {"height": 448, "width": 448},
        },
    },
    # BLIP-2 (Salesforce/blip2-opt-2.7b): BlipImageProcessor, exact 224 x 224 resize.
    "blip2-opt-2.7b": {
        "source": "huggingface.co/Salesforce/blip2-opt-2.7b preprocessor_config.json",
        "config": {
            "do_convert_rgb": True,
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": OPENAI_CLIP_MEAN,
            "image_processor_type": "BlipImageProcessor",
            "image_std": OPENAI_CLIP_STD,
            "processor_class": "Blip2Processor",
            "resample": 3,
            "rescale_factor": 0.00392156862745098,
            "size": {"height": 224, "width": 224},
        },
    },
    "Qwen2-VL-7B-Instruct": {
        "source": "huggingface.co/Qwen/Qwen2-VL-7B-Instruct preprocessor_config.json",
        "config": {
            "min_pixels": 3136,
            "max_pixels": 12845056,
            "patch_size": 14,
            "temporal_patch_size": 2,
            "merge_size": 2,
            "image_mean": OPENAI_CLIP_MEAN,
            "image_std": OPENAI_CLIP_STD,
            "image_processor_type": "Qwen2VLImageProcessor",
            "processor_class": "Qwen2VLProcessor",
        },
    },
    # Qwen2.5-VL-7B-Instruct (and Lingshu-7B, a Qwen2.5-VL fine-tune) publish the same image values.
    "Qwen2.5-VL-7B-Instruct": {
        "source": "huggingface.co/Qwen/Qwen2.5-VL-7B-Instruct preprocessor_config.json",
        "config": {
            "min_pixels": 3136,
            "max_pixels": 12845056,
            "patch_size": 14,
            "temporal_patch_size": 2,
            "merge_size": 2,
            "image_mean": OPENAI_CLIP_MEAN,
            "image_std": OPENAI_CLIP_STD,
            "image_processor_type": "Qwen2VLImageProcessor",
            "processor_class": "Qwen2_5_VLProcessor",
        },
    },
    # OpenGVLab/InternVL3-*-hf: written by transformers' convert_internvl_weights_to_hf.py
    # (write_image_processor: GotOcr2ImageProcessorFast, 448 x 448, ImageNet mean/std) and saved
    # with that class's defaults. crop_to_patches is false here; InternVLProcessor passes
    # crop_to_patches=True on every call (its images_kwargs default).
    "InternVL3-8B-hf": {
        "source": "huggingface.co/OpenGVLab/InternVL3-8B-hf preprocessor_config.json (the values "
                  "transformers' models/internvl/convert_internvl_weights_to_hf.py writes)",
        "config": {
            "crop_size": None,
            "crop_to_patches": False,
            "data_format": "channels_first",
            "default_to_square": True,
            "device": None,
            "do_center_crop": None,
            "do_convert_rgb": True,
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": [0.485, 0.456, 0.406],
            "image_processor_type": "GotOcr2ImageProcessorFast",
            "image_std": [0.229, 0.224, 0.225],
            "input_data_format": None,
            "max_patches": 12,
            "min_patches": 1,
            "processor_class": "InternVLProcessor",
            "resample": 3,
            "rescale_factor": 0.00392156862745098,
            "return_tensors": None,
            "size": {"height": 448, "width": 448},
        },
    },
}


# --- source images ------------------------------------------------------------------------------

def drawing(w, h, seed):
    """A seeded RGB picture with what resampling filters react to: smooth gradients, hard edges of
    filled shapes and thin lines, and a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([128 + 100 * np.sin(x / max(w, 1) * 5 + seed), 60 + 150 * y / max(h - 1, 1),
                     128 + 90 * np.cos((x + y) / 17.0)], axis=-1)
    base += rng.normal(0, 6, base.shape)
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(3, max(4, w // 2))), y0 + int(rng.integers(3, max(4, h // 2)))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x1, y1], fill=fill)
    for _ in range(3):
        d.line([tuple(int(v) for v in rng.integers(0, [w, h])) for _ in range(2)], fill=(255, 255, 255), width=1)
    return im


def make_images(folder):
    """name -> (what it covers). Every file is small (tens of KB at most)."""
    os.makedirs(folder, exist_ok=True)
    images = {}

    def save(name, im, note, **kw):
        im.save(os.path.join(folder, name), **kw)
        images[name] = note

    save("photo_wide.jpg", drawing(160, 64, 1), "RGB JPEG (4:2:0), 160x64: wide, upscaled by every fixed-size "
         "processor", quality=90)
    save("xray_tall.png", drawing(48, 136, 2).convert("L"), "grayscale (L) PNG, 48x136: tall")
    save("rgba_odd.png", Image.merge("RGBA", (*drawing(97, 83, 3).split(),
                                              Image.fromarray(np.tile(np.linspace(0, 255, 97).astype(np.uint8),
                                                                      (83, 1))))),
         "RGBA PNG with a varying alpha, 97x83 (odd sizes): convert('RGB') drops alpha")
    save("palette.png", drawing(75, 75, 4).convert("P", palette=Image.ADAPTIVE, colors=24),
         "palette (P) PNG, 75x75: square")
    save("gray.jpg", drawing(123, 77, 5).convert("L"), "grayscale JPEG, 123x77", quality=85)
    g16 = (np.asarray(drawing(40, 52, 6).convert("L"), dtype=np.uint16) * 3 // 2 + 1).astype(np.uint16)
    save("gray16.png", Image.fromarray(g16), "16-bit grayscale PNG (values 1..383), 40x52: convert('RGB') "
         "clips at 255 (no rescale)")
    save("thin.png", drawing(300, 12, 7), "RGB PNG, 300x12: very thin (Qwen's smallest-side rule)")
    save("large.jpg", drawing(320, 240, 8), "RGB JPEG (4:4:4), 320x240: downscaled by the 224 processors",
         quality=92, subsampling=0)
    return images


# --- running the processors ---------------------------------------------------------------------

def load_processor(folder, backend, **kw):
    return AutoImageProcessor.from_pretrained(folder, backend=backend, local_files_only=True, **kw)


def run_case(case, folder, backend):
    """The processor output (dict of numpy arrays) for one case, called the way the reference calls it."""
    image = Image.open(os.path.join(ROOT, "images", case["image"])).convert("RGB")
    kind = case["kind"]
    if kind == "llava_pad":
        # LLaVA's process_images with image_aspect_ratio "pad": expand2square(int(mean * 255)) then the
        # CLIP processor; LlavaImageProcessor(do_pad=True) is that, on the same CLIP config.
        proc = transformers.LlavaImageProcessorPil if backend == "pil" else transformers.LlavaImageProcessor
        cfg = {k: v for k, v in read_config(folder).items() if k != "feature_extractor_type"}
        p = proc(**cfg, do_pad=True)
        # The CLIP feature-extractor config's bare ints: shortest edge and a square crop.
        p.size = {"shortest_edge": cfg["size"]}
        p.crop_size = {"height": cfg["crop_size"], "width": cfg["crop_size"]}
        out = p(images=[image], return_tensors="np")
    else:
        p = load_processor(folder, backend)
        if kind == "qwen":
            # The reference: qwen_vl_utils.process_vision_info -> fetch_image (PIL resize to smart_resize's
            # size), then the processor (whose own smart_resize then keeps that size).
            ele = {"image": image}
            ele.update(case.get("fetch", {}))
            image = qwen_vl_utils.fetch_image(ele)
            out = p(images=[image], return_tensors="np")
        elif kind == "internvl":
            out = p(images=[image], crop_to_patches=True, return_tensors="np", **case.get("call", {}))
        else:
            out = p(images=[image], return_tensors="np", **case.get("call", {}))
    return {k: np.asarray(v) for k, v in out.items()}, type(p).__name__


def read_config(folder):
    with open(os.path.join(folder, "preprocessor_config.json")) as f:
        return json.load(f)


def lut_for(folder):
    """[3, 256] float32: the PIL backend's own rescale() + normalize() of every 8-bit value."""
    p = load_processor(folder, "pil")
    ramp = np.tile(np.arange(256, dtype=np.uint8), (3, 1, 1))  # channels-first [3, 1, 256]
    x = p.rescale(ramp, p.rescale_factor) if p.do_rescale else ramp.astype(np.float32)
    if p.do_normalize:
        x = p.normalize(x, p.image_mean, p.image_std)
    return np.ascontiguousarray(x[:, 0, :].astype(np.float32))


def channel_first(pixel_values, kind):
    """pixel_values with the channel at dim 1: Qwen's flat patches [N, 3 * T * P * P] -> [N, 3, T * P * P]."""
    if kind == "qwen":
        return pixel_values.reshape(pixel_values.shape[0], 3, -1)
    return pixel_values


def encode(pixel_values, lut, kind):
    """The 8-bit index tensor whose lut values are pixel_values, bit for bit (asserted)."""
    v = channel_first(pixel_values, kind)
    index = np.empty(v.shape, dtype=np.uint8)
    for c in range(3):
        order = np.argsort(lut[c], kind="stable")
        pos = np.clip(np.searchsorted(lut[c][order], v[:, c]), 0, 255)
        index[:, c] = order[pos]
        decoded = lut[c][index[:, c]]
        assert np.array_equal(decoded.view(np.uint32), v[:, c].astype(np.float32).view(np.uint32)), \
            "a pixel value is not one of the processor's rescale+normalize values: store it as float"
    return index


# (case name, checkpoint, image, kind, extra). kind: plain | llava_pad | qwen | internvl.
# Fixed-size processors run at their real sizes (the index tensors keep that affordable); InternVL's
# 448-pixel tiles are called with a smaller tile size (a per-call `size`, as InternVLProcessor
# forwards images_kwargs) so that small images still tile into several patches.
CASES = [
    ("clip_photo_wide", "clip-vit-base-patch16", "photo_wide.jpg", "plain", {}),
    ("clip_xray_tall", "clip-vit-base-patch16", "xray_tall.png", "plain", {}),
    ("clip_large", "clip-vit-base-patch16", "large.jpg", "plain", {}),
    ("llava_pad_photo_wide", "clip-vit-large-patch14-336", "photo_wide.jpg", "llava_pad", {}),
    ("siglip_gray_jpg", "siglip-base-patch16-224", "gray.jpg", "plain", {}),
    ("siglip_palette", "siglip-base-patch16-224", "palette.png", "plain", {}),
    ("siglip_large", "siglip-base-patch16-224", "large.jpg", "plain", {}),
    ("medsiglip_gray16", "medsiglip-448", "gray16.png", "plain", {}),
    ("blip2_rgba_odd", "blip2-opt-2.7b", "rgba_odd.png", "plain", {}),
    ("qwen2vl_photo_wide", "Qwen2-VL-7B-Instruct", "photo_wide.jpg", "qwen", {}),
    ("qwen2vl_xray_tall", "Qwen2-VL-7B-Instruct", "xray_tall.png", "qwen", {}),
    ("qwen2vl_thin", "Qwen2-VL-7B-Instruct", "thin.png", "qwen", {}),
    ("qwen2vl_gray16", "Qwen2-VL-7B-Instruct", "gray16.png", "qwen", {}),
    ("qwen2vl_rgba_odd", "Qwen2-VL-7B-Instruct", "rgba_odd.png", "qwen", {}),
    ("qwen25vl_gray_jpg", "Qwen2.5-VL-7B-Instruct", "gray.jpg", "qwen", {}),
    # Lingshu's wrapper asks fetch_image for resized_height = resized_width = 224.
    ("lingshu_palette", "Qwen2.5-VL-7B-Instruct", "palette.png", "qwen",
     {"fetch": {"resized_height": 224, "resized_width": 224}}),
    ("internvl_photo_wide", "InternVL3-8B-hf", "photo_wide.jpg", "internvl", {"call": {"size": {"height": 32, "width": 32}}}),
    ("internvl_xray_tall", "InternVL3-8B-hf", "xray_tall.png", "internvl", {"call": {"size": {"height": 32, "width": 32}}}),
    ("internvl_palette", "InternVL3-8B-hf", "palette.png", "internvl", {"call": {"size": {"height": 40, "width": 40}}}),
    ("internvl_large", "InternVL3-8B-hf", "large.jpg", "internvl", {"call": {"size": {"height": 56, "width": 56}}}),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--measured", help="JSON {case: max_abs_diff} printed by the C++ test, to record in fixture.json")
    args = ap.parse_args()

    images = make_images(os.path.join(ROOT, "images"))
    for name, ck in CHECKPOINTS.items():
        folder = os.path.join(ROOT, name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
            json.dump(ck["config"], f, indent=2)
            f.write("\n")

    outputs, cases = {}, {}
    luts = {}
    for name, ck_name, image, kind, extra in CASES:
        folder = os.path.join(ROOT, ck_name)
        if ck_name not in luts:
            luts[ck_name] = lut_for(folder)
            outputs[ck_name + ".lut"] = torch.from_numpy(luts[ck_name])
        case = {"image": image, "kind": kind, **extra}
        slow, slow_class = run_case(case, folder, "pil")
        fast, fast_class = run_case(case, folder, "torchvision")
        pv = slow["pixel_values"].astype(np.float32)
        outputs[name + ".pixel_index"] = torch.from_numpy(encode(pv, luts[ck_name], kind))
        info = {"checkpoint": ck_name, "image": image, "kind": kind, "pixel_values_shape": list(pv.shape),
                "pil_backend_class": slow_class, "torchvision_backend_class": fast_class}
        if "image_grid_thw" in slow:
            outputs[name + ".image_grid_thw"] = torch.from_numpy(slow["image_grid_thw"].astype(np.int64))
            assert np.array_equal(slow["image_grid_thw"], fast["image_grid_thw"])
            info["image_grid_thw"] = slow["image_grid_thw"].tolist()
        if "num_patches" in slow:
            outputs[name + ".num_patches"] = torch.tensor(np.asarray(slow["num_patches"]).astype(np.int64))
            info["num_patches"] = np.asarray(slow["num_patches"]).tolist()
            info["fast_num_patches"] = np.asarray(fast["num_patches"]).tolist()
        fpv = fast["pixel_values"].astype(np.float32)
        if fpv.shape == pv.shape:
            diff = np.abs(fpv.astype(np.float64) - pv)
            info["fast_vs_pil_max_abs_diff"] = float(diff.max())
        else:
            info["fast_vs_pil_max_abs_diff"] = f"shape differs: {list(fpv.shape)} vs {list(pv.shape)}"
        if kind == "qwen":
            info["fetch_image"] = case.get("fetch", {})
        if "call" in case:
            info["call_kwargs"] = case["call"]
        if kind == "internvl":
            info["call_kwargs"] = {"crop_to_patches": True, **case.get("call", {})}
        if kind == "llava_pad":
            info["call"] = "LlavaImageProcessor(**config, do_pad=True)"
        cases[name] = info
        print(f"{name:24s} {str(list(pv.shape)):22s} fast-vs-pil {info['fast_vs_pil_max_abs_diff']}")

    fixture_io.save_expected(ROOT, {}, outputs)
    measured = json.load(open(args.measured)) if args.measured else None
    fixture_io.write_fixture_json(
        ROOT,
        generator=GENERATOR,
        library=fixture_io.versions("transformers", "torchvision", "pillow", "numpy", "qwen-vl-utils"),
        oracle=("Image.open(path).convert('RGB') -> transformers AutoImageProcessor.from_pretrained(<checkpoint "
                "folder>, backend='pil') (== use_fast=False: the PIL-backend 'slow' classes "
                "CLIPImageProcessorPil, SiglipImageProcessorPil, BlipImageProcessorPil, Qwen2VLImageProcessorPil, "
                "GotOcr2ImageProcessorPil; LlavaImageProcessorPil(do_pad=True) for LLaVA's pad) called as the "
                "reference calls it: Qwen after qwen_vl_utils.fetch_image, InternVL with crop_to_patches=True. "
                "The torchvision backend (use_fast=True, transformers 5's default) ran on the same inputs; its "
                "difference is in each case's fast_vs_pil_max_abs_diff."),
        weights="none (image processors only)",
        checkpoints={k: {"source": v["source"]} for k, v in CHECKPOINTS.items()},
        images=images,
        cases=cases,
        storage="output.<case>.pixel_index (uint8, channel at dim 1; Qwen patches viewed as [N, 3, T*P*P]) and "
                "output.<checkpoint>.lut [3, 256]: pixel_values == lut[c][pixel_index] bit for bit (asserted by "
                "the generator); output.<case>.image_grid_thw / num_patches as the processor returns them",
        tolerance="0 (bit-exact): our pipeline is PIL's resampling transcribed plus the same float32 "
                  "rescale/normalize",
        max_abs_diff_measured=measured if measured is not None else "run the C++ test and pass --measured",
        matches=("ours == the PIL backend bit for bit (max_abs_diff_measured), so ours vs the torchvision "
                 "backend is exactly each case's fast_vs_pil_max_abs_diff: up to ~2 8-bit levels where it resizes (torchvision's "
                 "antialiased bicubic/bilinear is not PIL's), ~2.4e-7 where the resize is a no-op (Qwen after "
                 "fetch_image: float rounding of its fused rescale+normalize)"),
        pillow_13=("pillow >= 13 resizes vertically first when the height shrinks more than twice as much as the "
                   "width (Pillow#9549); ours and every earlier Pillow go horizontally first. Ours vs the PIL "
                   "backend on pillow 13.0.0, where it differs: " + json.dumps(PILLOW_13_MEASURED)),
        reference_backend=("transformers 4.53.1 (the reference) loads the class named in the config: the slow one "
                           "unless the saved image_processor_type ends in 'Fast'. So CLIP, SigLIP, MedSigLIP, BLIP-2, "
                           "LLaVA and Qwen2/2.5-VL ran the PIL path (ours, exactly); the InternVL3-hf checkpoints "
                           "save GotOcr2ImageProcessorFast, so the reference ran InternVL on the torchvision path "
                           "(see the internvl_* cases' fast_vs_pil_max_abs_diff)."),
    )
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(ROOT) for f in fs)
    print(f"wrote {ROOT} ({size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
