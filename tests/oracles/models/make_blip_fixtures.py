#!/usr/bin/env python3
"""Tiny BLIP / BLIP-2 checkpoints made by transformers in their published layouts, with the outputs
tests/models/blip_test.cpp compares against.

  tests/fixtures/models/blip/vision-blip/        BlipVisionModel.save_pretrained (qkv Linear with bias, eps 1e-5)
  tests/fixtures/models/blip/vision-blip2/       Blip2VisionModel.save_pretrained (qkv_bias true: qkv.bias with a
                                                 zero key part, as transformers' conversion writes it)
  tests/fixtures/models/blip/vision-blip2-nobias/ Blip2VisionModel with qkv_bias false (no qkv bias at all)

expected.safetensors in each vision folder: input.pixel_values (seeded random [2, 3, S, S]) and
output.last_hidden_state / output.pooler_output of the model's forward (fp32).

usage: .venv/bin/python tests/oracles/models/make_blip_fixtures.py
"""
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built here; never reach a hub

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import fixture_io  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models", "blip")
GENERATOR = "tests/oracles/models/make_blip_fixtures.py"
WEIGHTS = "seeded random (torch.Generator; every parameter redrawn after the transformers init)"
TOLERANCE = 1e-4
# What tests/models/blip_test.cpp measured (LibTorch 1.13, CPU, fp32).
MEASURED = {"vision-blip": 9.6e-07, "vision-blip2": 8.4e-07, "vision-blip2-nobias": 6.0e-07}


def redraw(model, seed):
    """Every parameter redrawn from a seeded generator, so that the tiny towers separate their inputs
    (transformers' init gives near-constant outputs at this size)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(shape, std):
        return torch.randn(shape, generator=g) * std

    with torch.no_grad():
        for name, p in model.named_parameters():
            if ("norm" in name or "LayerNorm" in name) and name.endswith("weight"):
                p.copy_(1.0 + rnd(p.shape, 0.1))
            elif name.endswith("bias") or name.endswith("q_bias") or name.endswith("v_bias"):
                p.copy_(rnd(p.shape, 0.1))
            elif "embedding" in name:
                p.copy_(rnd(p.shape, 0.5))
            else:
                assert p.dim() >= 2, name
                p.copy_(rnd(p.shape, p[0].numel() ** -0.5))


def fresh(folder):
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def vision_kwargs():
    return dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32,
                patch_size=8)


def save_vision(folder, model, seed, oracle):
    g = torch.Generator().manual_seed(seed + 1)
    s = model.config.image_size
    pixels = torch.randn(2, 3, s, s, generator=g)
    with torch.no_grad():
        out = model(pixel_values=pixels)
    fixture_io.save_expected(folder, {"pixel_values": pixels},
                             {"last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output})
    fixture_io.write_fixture_json(
        folder, generator=GENERATOR, library=fixture_io.versions("transformers"), weights=WEIGHTS,
        oracle=oracle + ".forward(pixel_values) -> last_hidden_state, pooler_output (fp32, CPU)",
        tolerance=TOLERANCE, max_abs_diff_measured=MEASURED.get(os.path.basename(folder)))


def make_blip_vision(name, seed):
    from transformers import BlipVisionConfig, BlipVisionModel

    torch.manual_seed(seed)
    model = BlipVisionModel(BlipVisionConfig(**vision_kwargs())).eval()
    redraw(model, seed)
    folder = fresh(os.path.join(ROOT, name))
    model.save_pretrained(folder, safe_serialization=True)
    save_vision(folder, model, seed, "BlipVisionModel(BlipVisionConfig(...))")


def make_blip2_vision(name, qkv_bias, seed):
    from transformers import Blip2VisionConfig, Blip2VisionModel

    torch.manual_seed(seed)
    model = Blip2VisionModel(Blip2VisionConfig(qkv_bias=qkv_bias, **vision_kwargs())).eval()
    redraw(model, seed)
    if qkv_bias:
        # transformers builds qkv.bias as cat(q_bias, zeros, v_bias); the key part stays zero.
        with torch.no_grad():
            for layer in model.encoder.layers:
                d = model.config.hidden_size
                layer.self_attn.qkv.bias[d:2 * d].zero_()
    folder = fresh(os.path.join(ROOT, name))
    model.save_pretrained(folder, safe_serialization=True)
    save_vision(folder, model, seed, f"Blip2VisionModel(Blip2VisionConfig(qkv_bias={qkv_bias}, ...))")


def main():
    os.makedirs(ROOT, exist_ok=True)
    make_blip_vision("vision-blip", 10)
    make_blip2_vision("vision-blip2", True, 11)
    make_blip2_vision("vision-blip2-nobias", False, 12)


if __name__ == "__main__":
    main()
