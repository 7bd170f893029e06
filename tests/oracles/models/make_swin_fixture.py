#!/usr/bin/env python3
"""Writes tests/fixtures/models/tiny-swin: a tiny Hugging Face SwinModel (the vision tower of MedCLIP)
saved with save_pretrained (config.json + model.safetensors, SwinModel's published tensor names), and
expected.safetensors with transformers' SwinModel outputs (last_hidden_state, pooler_output) on inputs
that reach the cases the MedCLIP fixture does not: a last stage exactly the window's size (swin-tiny at
224: 7x7 with window 7, so one window and no shift) and non-square inputs (each side padded on its own,
min(h, w) deciding the window), plus pixel padding to the patch size (61x57).

  .venv/bin/python tests/oracles/models/make_swin_fixture.py      (bash scripts/oracle_env.sh first)
Read by tests/nn/swin_test.cpp. Seeded: reruns give the same tensors.
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from fixture_io import save_expected, versions, write_fixture_json  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "models", "tiny-swin"))
CONFIG = dict(image_size=56, patch_size=4, num_channels=3, embed_dim=8, depths=[2, 3], num_heads=[2, 4],
              window_size=7, mlp_ratio=4.0, qkv_bias=True, hidden_act="gelu", layer_norm_eps=1e-5,
              use_absolute_embeddings=False, drop_path_rate=0.0, hidden_dropout_prob=0.0,
              attention_probs_dropout_prob=0.0)
# (batch, height, width): square at the config size, then non-square sizes with pixel padding.
CASES = [(2, 56, 56), (1, 56, 60), (1, 61, 57)]


def randomize(model):
    """Weights far from the init (which would make every block near identity): LayerNorms near identity
    yet not exactly, linear/conv weights ~ 1/sqrt(fan_in), relative position tables of scale 0.5."""
    torch.manual_seed(11)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape))
            else:
                fan_in = p.numel() / p.shape[0] if p.dim() > 1 else 10.0
                p.copy_(torch.randn(p.shape) * (0.5 if "relative_position" in name else fan_in ** -0.5))


def main():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import SwinConfig, SwinModel
    os.makedirs(OUT, exist_ok=True)
    model = SwinModel(SwinConfig(**CONFIG), add_pooling_layer=True)
    randomize(model)
    model.eval()
    model.save_pretrained(OUT)
    inputs, outputs = {}, {}
    for b, h, w in CASES:
        # Load what was written (the published layout), so loading is proven too; afresh for every
        # input size, because SwinLayer.set_shift_and_window_size stores its result on the module (a
        # map once no larger than the window disables that block's shift for every later call).
        model = SwinModel.from_pretrained(OUT).eval()
        tag = f"{h}x{w}"
        torch.manual_seed(h * 100 + w)
        px = torch.randn(b, 3, h, w)
        with torch.no_grad():
            out = model(pixel_values=px)
        inputs["pixel_values_" + tag] = px
        outputs["last_hidden_state_" + tag] = out.last_hidden_state
        outputs["pooler_output_" + tag] = out.pooler_output
    save_expected(OUT, inputs, outputs)
    write_fixture_json(
        OUT, generator="tests/oracles/models/make_swin_fixture.py", library=versions("transformers"),
        oracle="transformers.SwinModel.from_pretrained(folder)(pixel_values) -> last_hidden_state, pooler_output, "
               "a freshly loaded model per case (SwinLayer keeps the window/shift of its last call) "
               f"(attn_implementation {model.config._attn_implementation!r})",
        format="Hugging Face SwinModel folder (save_pretrained: config.json + model.safetensors)",
        weights="seeded random (torch.manual_seed(11)): LayerNorms 1 + 0.1 N(0,1), others N(0,1)/sqrt(fan_in), "
                "relative position tables 0.5 N(0,1)",
        cases=[f"batch {b}, {h}x{w}" for b, h, w in CASES], tolerance=1e-4,
        max_abs_diff_measured=MEASURED)
    print("wrote", OUT)


# Largest |ours - transformers| that tests/nn/swin_test.cpp printed on this machine (fp32, CPU).
MEASURED = 1.43e-06

if __name__ == "__main__":
    main()
