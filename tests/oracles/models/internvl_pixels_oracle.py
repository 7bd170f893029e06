#!/usr/bin/env python3
"""Live oracle for InternVL -hf pixel values at the published tile size (448 px), which the stored
fixture (56 px tiles) cannot hold: transformers' GotOcr2ImageProcessor (the torchvision backend, what
GotOcr2ImageProcessorFast is in transformers 4.53.1) with crop_to_patches=True, as InternVLProcessor
calls it, on a few images. Writes into OUT_DIR:
  big.png                  a seeded synthetic 1000 x 700 image (tiles come from a downscale)
  expected.safetensors     input.<i>.pixel_index uint8 [tiles, 3, 448, 448] (indices into output.lut,
                           checked to reproduce pixel_values bit for bit), input.<i>.num_patches, output.lut
  images.json              the image paths, in order

usage: internvl_pixels_oracle.py OUT_DIR PREPROCESSOR_CONFIG_DIR IMAGE...   (big.png is added first)
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import fixture_io  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, cfg_dir, images = sys.argv[1], sys.argv[2], sys.argv[3:]
    from transformers import GotOcr2ImageProcessor
    cfg = json.load(open(os.path.join(cfg_dir, "preprocessor_config.json")))
    cfg["size"] = {"height": 448, "width": 448}  # the published checkpoints' tiles
    proc = GotOcr2ImageProcessor(**{k: v for k, v in cfg.items() if k not in ("image_processor_type", "processor_class")})
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:700, 0:1000]
    big = np.stack([(xx * 255 // 999), (yy * 255 // 699), ((xx + yy) % 256)], -1).astype(np.int64)
    big = np.clip(big + rng.integers(-40, 41, big.shape), 0, 255).astype(np.uint8)
    Image.fromarray(big).save(os.path.join(out, "big.png"))
    paths = [os.path.join(out, "big.png")] + images
    ramp = torch.arange(256, dtype=torch.uint8).view(1, 1, 1, 256).expand(1, 3, 1, 256).contiguous()
    lut = proc.rescale_and_normalize(ramp, True, proc.rescale_factor, True, proc.image_mean, proc.image_std)[0, :, 0]
    inputs = {}
    for i, p in enumerate(paths):
        r = proc(Image.open(p).convert("RGB"), crop_to_patches=True, return_tensors="pt")
        pv = r["pixel_values"].numpy()
        idx = np.zeros(pv.shape, dtype=np.uint8)
        for c in range(3):
            table = lut[c].numpy()
            idx[:, c] = np.searchsorted(table, pv[:, c])
            assert np.array_equal(table[idx[:, c]], pv[:, c]), "pixel values are not lut values"
        inputs[f"{i}.pixel_index"] = torch.from_numpy(idx)
        inputs[f"{i}.num_patches"] = torch.as_tensor(r["num_patches"]).reshape(-1).long()
    fixture_io.save_expected(out, inputs, {"lut": lut.float().contiguous()})
    with open(os.path.join(out, "images.json"), "w") as f:
        json.dump(paths, f)
    print(json.dumps({"images": len(paths), "processor": type(proc).__name__}))


if __name__ == "__main__":
    main()
