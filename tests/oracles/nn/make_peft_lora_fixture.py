#!/usr/bin/env python3
"""A LoRA adapter saved by PEFT itself, for tests/train/peft_lora_test.cpp (run with .venv/bin/python).

  tests/fixtures/models/tiny-clip-peft-lora/
    base/       a tiny transformers CLIPModel (save_pretrained: config.json, model.safetensors,
                CLIPTokenizer files, CLIPImageProcessor's preprocessor_config.json), seeded weights
    adapter/    PeftModel.save_pretrained of the reference's img-lora-lp / clip-img-lora LoRA on
                base's vision tower: adapter_config.json + adapter_model.safetensors
    expected.safetensors  inputs pixel_values; outputs image_embeds (get_image_features through the
                adapted tower), vision_last_hidden_state, and image_embeds_base (no adapter)
    fixture.json

The LoRA is the reference's (MedVLMBench model/clip_base.py, usages img-lora-lp and clip-img-lora):
  LoraConfig(r=8, lora_alpha=32, lora_dropout=0.05, bias="none",
             target_modules=<name of every nn.Linear / nn.Embedding of model.vision_model>)
  model.vision_model = get_peft_model(model.vision_model, lora_config)
PEFT starts lora_B (Linear) and lora_embedding_A (Embedding) at zero, an adapter that changes nothing;
the generator fills every adapter tensor with seeded random values, as training would, so the outputs
depend on each of them.
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from fixture_io import save_expected, versions, write_fixture_json  # noqa: E402

from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "models", "tiny-clip-peft-lora"))
IMAGE, PATCH = 16, 4


def byte_chars():
    """GPT-2 / CLIP's byte-to-unicode table (printable bytes stand for themselves, the others are
    shifted past 255), in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def lora_targets(vision_model):
    """The reference's find_target_linear_names(): every nn.Linear / nn.Embedding, by full name."""
    return [n for n, m in vision_model.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.Embedding))]


def reference_lora_config(vision_model):
    return LoraConfig(r=8, lora_alpha=32, lora_dropout=0.05, bias="none", target_modules=lora_targets(vision_model))


def make_base(folder):
    cfg = CLIPConfig(
        text_config=dict(vocab_size=514, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16, bos_token_id=512, eos_token_id=513,
                         pad_token_id=513),
        vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                           image_size=IMAGE, patch_size=PATCH, num_channels=3),
        projection_dim=12)
    torch.manual_seed(21)
    model = CLIPModel(cfg).eval()
    with torch.no_grad():  # weights of a spread that makes every layer matter
        for name, p in model.named_parameters():
            if "layer_norm" in name or "layrnorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif p.dim() >= 2 and "embedding" not in name:
                p.copy_(torch.randn_like(p) * p[0].numel() ** -0.5)
            elif name != "logit_scale":
                p.copy_(0.5 * torch.randn_like(p))
    model.save_pretrained(folder)
    # A byte-level CLIP BPE vocabulary without merges: enough for the loader, tiny on disk.
    with tempfile.TemporaryDirectory() as tmp:
        chars = byte_chars()
        vocab = {c: i for i, c in enumerate(chars)}
        vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
        vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
        with open(os.path.join(tmp, "vocab.json"), "w") as f:
            json.dump(vocab, f)
        with open(os.path.join(tmp, "merges.txt"), "w") as f:
            f.write("#version: 0.2\n")
        tok = CLIPTokenizer(os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt"), model_max_length=16)
        tok.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE}).save_pretrained(
        folder)
    return model


def image_features(model, vision, pixel_values):
    """CLIPModel.get_image_features with `vision` (plain or PEFT-wrapped) as the vision tower."""
    out = vision(pixel_values=pixel_values)
    return model.visual_projection(out.pooler_output), out.last_hidden_state


def main():
    os.makedirs(OUT, exist_ok=True)
    base_dir, adapter_dir = os.path.join(OUT, "base"), os.path.join(OUT, "adapter")
    model = make_base(base_dir)
    torch.manual_seed(22)
    pixel_values = torch.randn(2, 3, IMAGE, IMAGE)
    with torch.no_grad():
        base_embeds, _ = image_features(model, model.vision_model, pixel_values)

    cfg = reference_lora_config(model.vision_model)
    peft_vision = get_peft_model(model.vision_model, cfg)
    g = torch.Generator().manual_seed(23)
    n = 0
    with torch.no_grad():
        for name, p in peft_vision.named_parameters():
            if "lora_" in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
                n += 1
    peft_vision.save_pretrained(adapter_dir)
    peft_vision.eval()
    with torch.no_grad():
        embeds, hidden = image_features(model, peft_vision, pixel_values)

    # What a PEFT user does with the folder: load it back on a fresh base, same outputs.
    fresh = CLIPModel.from_pretrained(base_dir).eval()
    loaded = PeftModel.from_pretrained(fresh.vision_model, adapter_dir).eval()
    with torch.no_grad():
        again, _ = image_features(fresh, loaded, pixel_values)
    assert torch.allclose(again, embeds, atol=1e-6)
    assert (embeds - base_embeds).abs().max() > 0.1, "the adapter must change the output"

    save_expected(OUT, {"pixel_values": pixel_values},
                  {"image_embeds": embeds, "vision_last_hidden_state": hidden, "image_embeds_base": base_embeds})
    write_fixture_json(
        OUT, generator="tests/oracles/nn/make_peft_lora_fixture.py", library=versions("transformers", "peft"),
        format="base/: transformers CLIPModel.save_pretrained (+ CLIPTokenizer, CLIPImageProcessor); adapter/: "
               "PeftModel.save_pretrained (adapter_config.json, adapter_model.safetensors)",
        weights="seeded random (torch.manual_seed(21)); adapter tensors seeded random (23), all %d of them" % n,
        oracle="peft.get_peft_model(CLIPModel.vision_model, LoraConfig(r=8, lora_alpha=32, lora_dropout=0.05, "
               "bias='none', target_modules=[every nn.Linear / nn.Embedding of the vision tower])) as "
               "MedVLMBench's img-lora-lp / clip-img-lora; outputs in eval mode: visual_projection("
               "pooler_output) and last_hidden_state",
        lora_targets=lora_targets(model.vision_model),
        tolerance={"image_embeds": 1e-5, "vision_last_hidden_state": "1e-5 relative to its max |x|"},
        max_abs_diff_measured=MEASURED)
    print("wrote", OUT, "with", n, "adapter tensors")


# Ours vs PEFT, as tests/train/peft_lora_test.cpp printed them on this machine (hidden state: relative to
# its largest magnitude, ~100 with these strong adapters).
MEASURED = {"image_embeds": 1.3e-6, "vision_last_hidden_state_relative": 1.2e-6,
            "our_adapter_in_peft_image_embeds": 1.2e-6, "our_adapter_in_peft_last_hidden_state_relative": 3.7e-6}

if __name__ == "__main__":
    main()
