#!/usr/bin/env python3
"""Tiny Hugging Face CLIP and SigLIP checkpoints, made and run by transformers itself, with the outputs
the C++ tests compare against (CLIP, PLIP and PubMedCLIP are CLIPModel checkpoints; SigLIP and
MedSigLIP are SiglipModel checkpoints).

  tests/fixtures/models/tiny-clip/      CLIPModel.save_pretrained (config.json, model.safetensors),
                                        CLIPTokenizer.save_pretrained (tokenizer.json,
                                        tokenizer_config.json) plus the vocab.json / merges.txt that
                                        published CLIP folders also ship (written by the tokenizers BPE
                                        model), special_tokens_map.json, CLIPImageProcessor
                                        preprocessor_config.json, expected.safetensors, fixture.json
  tests/fixtures/models/tiny-clip-bin/  the same model as pytorch_model.bin: torch.save of the state dict
                                        with the position_ids buffers that checkpoints written before
                                        transformers 4.31 persist (openai/clip-*, vinid/plip and
                                        PubMedCLIP ship this file); expected.safetensors (model outputs)
  tests/fixtures/models/tiny-siglip/    SiglipModel.save_pretrained, SiglipTokenizer.save_pretrained
                                        (spiece.model), SiglipImageProcessor preprocessor_config.json,
                                        expected.safetensors, fixture.json

expected.safetensors (tests/oracles/common/fixture_io.py) holds, for texts and image files listed in
fixture.json:
  input.input_ids / input.attention_mask  the library tokenizer's batch (padding=True, truncation=True,
                                          max_length=model_max_length), as the reference tokenises
  input.pixel_values                      the library image processor's output for the image files
  output.image_embeds / output.text_embeds  get_image_features / get_text_features (pooler_output)
  output.logits_per_image                 the model's forward on the same inputs
The sizes are those the other tests assume (CLIP: text 2L/16 vocab 523, ViT 2L/24 patch 8 at 32 px,
projection 12; SigLIP: text 2L/16 vocab 48, ViT 2L/16 patch 8 at 32 px). Every parameter is redrawn
from a seeded generator (transformers' init leaves LayerNorms at 1/0 and biases at 0, which would hide
missing affine terms), so reruns write identical files.

usage: .venv/bin/python tests/oracles/models/make_hf_clip_fixtures.py           # the fixtures
       .venv/bin/python tests/oracles/models/make_hf_clip_fixtures.py --clip-base DIR
                                      # a ViT-B/16-sized random CLIP for bench/clip_bench.cpp
"""
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built here; never reach a hub

import torch  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import fixture_io  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models")
GENERATOR = "tests/oracles/models/make_hf_clip_fixtures.py"
WEIGHTS = "seeded random (torch.manual_seed; every parameter redrawn after the transformers init)"

# Real image files (repository-relative), read by the C++ test through our decoder and processor:
# a 48x48 grayscale PNG (downscaled, L -> RGB), a 32x32 RGB PNG (size kept) and a 41x29 RGB PNG
# (upscaled, non-square: the shortest-edge rule and the center-crop offset), written next to the
# checkpoint from the Camelyon17 patch by make_wide_image().
IMAGES = ["tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",
          "tests/fixtures/datasets/Camelyon17/patches/patient_004_node_0/patch_patient_004_node_0_x_3328_y_21792.png"]
WIDE_IMAGE = "wide_41x29.png"

# Texts for the tokenizer and text-tower checks: case, punctuation, apostrophes, digits, accents and
# other Unicode, runs of whitespace, a special token written in the text, the empty string, and one text
# longer than the context (truncation keeps the final special token).
CLIP_TEXTS = ["a photo of chest xray", "a photo of x", "A Photo of PNEUMONIA!!",
              "it's   the patient's 2nd x-ray:\t12.5 mm\n(left)", "café naïve résumé — ünïcödé 🩻",
              "<|startoftext|>hi<|endoftext|> there", "",
              "no finding " * 12]
SIGLIP_TEXTS = ["a photo of benign fundus", "a photo of glaucoma fundus", "A Photo of GLAUCOMA, Fundus!",
                "benign  retina; (negative) tumor... melanoma?", "naïve zebra quartz 42", "",
                "a photo of chest xray with pneumonia " * 4]


def redraw(model, seed, scales):
    """Replaces every parameter with seeded values of a sensible scale: LayerNorm weights 1 + N(0, .1),
    biases N(0, .1), embeddings and the class/probe tokens N(0, s) from `scales`, matrices N(0, 1/fan_in)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(shape, std):
        return torch.randn(shape, generator=g) * std

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in scales:
                p.copy_(scales[name] if torch.is_tensor(scales[name]) else rnd(p.shape, scales[name]))
            elif any(k in name for k in ("layer_norm", "layernorm", "pre_layrnorm")) and name.endswith("weight"):
                p.copy_(1.0 + rnd(p.shape, 0.1))
            elif name.endswith("bias"):
                p.copy_(rnd(p.shape, 0.1))
            elif "embedding" in name and "patch" not in name:
                p.copy_(rnd(p.shape, 0.2))
            elif "patch_embedding" in name:
                p.copy_(rnd(p.shape, 0.05))
            else:
                assert p.dim() >= 2, name
                p.copy_(rnd(p.shape, p[0].numel() ** -0.5))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def make_wide_image(out):
    """A 41x29 RGB PNG made from a real 32x32 patch (PIL bicubic), kept beside the checkpoint."""
    src = Image.open(os.path.join(SRC, IMAGES[1])).convert("RGB")
    src.resize((41, 29), Image.BICUBIC).save(os.path.join(out, WIDE_IMAGE))


def open_images(out):
    """The image files as the reference opens them: PIL Image.open(path).convert("RGB")."""
    paths = [os.path.join(SRC, p) for p in IMAGES] + [os.path.join(out, WIDE_IMAGE)]
    return [Image.open(p).convert("RGB") for p in paths]


TV_NOTE = ("transformers 5's default {cls} (torchvision resize) differs from the PIL one by up to {d} on these "
           "images; transformers 4 loaded the PIL one unless use_fast=True, and our preprocessing follows it")


# ---------------------------------------------------------------- CLIP
def bytes_to_unicode():
    """GPT-2 / CLIP byte -> printable character table (every byte gets a base token)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


# A handful of merges so that BPE merging (and the </w> end-of-word suffix) is exercised.
CLIP_MERGES = [("p", "h"), ("o", "t"), ("ph", "ot"), ("phot", "o</w>"), ("o", "f</w>"), ("c", "h"), ("e", "s"),
               ("x", "r"), ("a", "y</w>")]


def clip_tokenizer(max_length=77):
    from transformers import CLIPTokenizer
    chars = bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m) for m in CLIP_MERGES]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=list(CLIP_MERGES),
                         model_max_length=max_length)


def save_clip_tokenizer(tok, out):
    tok.save_pretrained(out)  # tokenizer.json + tokenizer_config.json (transformers 5 writes no more)
    # Published CLIP folders (openai/clip-*, vinid/plip) also ship the BPE files and the special tokens
    # map; the tokenizers BPE model writes the former in the same format.
    tok.backend_tokenizer.model.save(out)
    write_json(os.path.join(out, "special_tokens_map.json"),
               {"bos_token": tok.bos_token, "eos_token": tok.eos_token, "pad_token": tok.pad_token,
                "unk_token": tok.unk_token})


def clip_config(vocab_size, bos, eos, base=False):
    from transformers import CLIPConfig
    t = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
             max_position_embeddings=77, vocab_size=vocab_size, hidden_act="quick_gelu", layer_norm_eps=1e-5,
             bos_token_id=bos, eos_token_id=eos, pad_token_id=eos)
    v = dict(hidden_size=24, intermediate_size=48, num_hidden_layers=2, num_attention_heads=3, image_size=32,
             patch_size=8, num_channels=3, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    proj = 12
    if base:  # openai/clip-vit-base-patch16 sizes (benchmarks only; never committed)
        t.update(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8)
        v.update(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                 image_size=224, patch_size=16)
        proj = 512
    return CLIPConfig(text_config=t, vision_config=v, projection_dim=proj, logit_scale_init_value=2.6592)


def clip_processor_settings(side):
    return dict(size={"shortest_edge": side}, crop_size={"height": side, "width": side})


def make_clip(out, bin_out):
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer
    for d in (out, bin_out):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    tok = clip_tokenizer()
    save_clip_tokenizer(tok, out)
    cfg = clip_config(len(tok), tok.bos_token_id, tok.eos_token_id)
    torch.manual_seed(1)
    model = CLIPModel(cfg).eval()
    redraw(model, 1, {"text_model.embeddings.token_embedding.weight": 0.5,
                      "vision_model.embeddings.class_embedding": 0.5,
                      "logit_scale": torch.tensor(2.6592)})
    model.save_pretrained(out)
    CLIPImageProcessor(**clip_processor_settings(32)).save_pretrained(out)
    make_wide_image(out)

    # Reload everything from the folder, as a user of the checkpoint would.
    model = CLIPModel.from_pretrained(out, attn_implementation="eager").eval()
    fast = AutoTokenizer.from_pretrained(out)
    assert type(fast) is CLIPTokenizer, type(fast)
    kw = dict(padding=True, truncation=True, max_length=fast.model_max_length, return_tensors="pt")
    text = fast(CLIP_TEXTS, **kw)
    # The vocab.json + merges.txt route (no tokenizer.json) gives the same ids. transformers 5 has no
    # slow (pure Python) CLIP tokenizer any more: use_fast=False returns this same class.
    bpe_only = os.path.join(out, "_bpe_only")
    os.makedirs(bpe_only)
    for f in ("vocab.json", "merges.txt", "special_tokens_map.json"):
        shutil.copy(os.path.join(out, f), bpe_only)
    slow = CLIPTokenizer.from_pretrained(bpe_only, model_max_length=77)
    shutil.rmtree(bpe_only)
    assert torch.equal(slow(CLIP_TEXTS, **kw)["input_ids"], text["input_ids"]), "vocab.json route differs"
    assert type(AutoTokenizer.from_pretrained(out, use_fast=False)) is CLIPTokenizer

    images = open_images(out)
    # CLIPImageProcessorPil is transformers 4's default (slow) CLIPImageProcessor, which our PIL-exact
    # preprocessing follows; transformers 5's default is the torchvision one (see TV_NOTE).
    pil = CLIPImageProcessorPil.from_pretrained(out)
    pixels = pil(images=images, return_tensors="pt")["pixel_values"]
    tv = CLIPImageProcessor.from_pretrained(out)(images=images, return_tensors="pt")["pixel_values"]
    tv_diff = f"{(pixels - tv).abs().max().item():.3g}"
    print("CLIP pixels: PIL vs torchvision processor max |diff|", tv_diff)

    with torch.no_grad():
        img = model.get_image_features(pixel_values=pixels).pooler_output
        txt = model.get_text_features(input_ids=text["input_ids"], attention_mask=text["attention_mask"]).pooler_output
        fwd = model(input_ids=text["input_ids"], attention_mask=text["attention_mask"], pixel_values=pixels)
        # Configs written before transformers PR #24773 say eos_token_id=2: transformers then pools at
        # the argmax id instead of the first end-of-text; with this vocabulary (end-of-text is the
        # largest id) both give the same features, which the C++ test checks on such a config.
        model.text_model.eos_token_id = 2
        legacy = model.get_text_features(input_ids=text["input_ids"],
                                         attention_mask=text["attention_mask"]).pooler_output
        assert torch.equal(legacy, txt)
    assert torch.allclose(fwd.image_embeds, img / img.norm(dim=-1, keepdim=True), atol=1e-6)
    inputs = {"input_ids": text["input_ids"], "attention_mask": text["attention_mask"], "pixel_values": pixels}
    outputs = {"image_embeds": img, "text_embeds": txt, "logits_per_image": fwd.logits_per_image}
    fixture_io.save_expected(out, inputs, outputs)

    # pytorch_model.bin: torch.save(state_dict) as transformers 4.30 and older wrote it, position_ids
    # buffers included (they were persistent then); the tokenizer and processor files are the same.
    for f in os.listdir(out):
        if f not in ("model.safetensors", "expected.safetensors", "fixture.json", WIDE_IMAGE):
            shutil.copy(os.path.join(out, f), bin_out)
    sd = dict(model.state_dict())
    sd["text_model.embeddings.position_ids"] = torch.arange(cfg.text_config.max_position_embeddings)[None]
    n_pos = (cfg.vision_config.image_size // cfg.vision_config.patch_size) ** 2 + 1
    sd["vision_model.embeddings.position_ids"] = torch.arange(n_pos)[None]
    torch.save({k: v.contiguous() for k, v in sd.items()}, os.path.join(bin_out, "pytorch_model.bin"))
    # transformers loads that file to the same model (the layout is proven by the library, too).
    again = CLIPModel.from_pretrained(bin_out, attn_implementation="eager", use_safetensors=False).eval()
    with torch.no_grad():
        assert torch.equal(again.get_image_features(pixel_values=pixels).pooler_output, img)
    fixture_io.save_expected(bin_out, inputs, outputs)

    oracle = ("transformers CLIPModel.from_pretrained(attn_implementation='eager') in fp32: "
              "get_image_features(pixel_values).pooler_output, get_text_features(input_ids, attention_mask)"
              ".pooler_output, forward().logits_per_image; ids from AutoTokenizer.from_pretrained (CLIPTokenizer, "
              "tokenizers backend; transformers 5 has no slow CLIP tokenizer, and CLIPTokenizer on vocab.json + "
              "merges.txt alone gives the same ids)(texts, padding=True, truncation=True, max_length=77); pixels "
              "from CLIPImageProcessorPil (transformers 4's default slow CLIPImageProcessor, PIL resize) on "
              "Image.open(path).convert('RGB')")
    common = dict(generator=GENERATOR, library=fixture_io.versions("transformers", "tokenizers", "pillow"),
                  oracle=oracle, weights=WEIGHTS, processor_note=TV_NOTE.format(cls="CLIPImageProcessor", d=tv_diff))
    return common, outputs


# ---------------------------------------------------------------- SigLIP
SIGLIP_CORPUS = ["a photo of chest xray with no finding", "a photo of chest xray with pneumonia",
                 "benign fundus", "glaucoma fundus", "diseased xray", "normal xray", "benign retina",
                 "glaucomatous retina", "negative tumor", "positive tumor", "melanoma", "actinic keratoses"]


def train_spiece(path):
    """A 48-piece unigram SentencePiece model trained by the sentencepiece library on a tiny corpus
    (pad 0, eos 1, unk 2, no bos: the ids google/siglip-* use)."""
    import io
    import sentencepiece as spm
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(SIGLIP_CORPUS * 20), model_writer=buf, vocab_size=48,
                                   model_type="unigram", normalization_rule_name="identity", pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, minloglevel=2, num_threads=1)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def make_siglip(out):
    try:
        import google.protobuf  # noqa: F401  (transformers' SiglipTokenizer refuses to load without it)
    except ImportError:
        sys.exit("SiglipTokenizer needs protobuf in the oracle environment: .venv/bin/pip install protobuf==7.36.2")
    from transformers import (AutoTokenizer, SiglipConfig, SiglipImageProcessor, SiglipImageProcessorPil,
                              SiglipModel, SiglipTokenizer)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    spm_path = os.path.join(out, "_train.model")
    train_spiece(spm_path)
    tok = SiglipTokenizer(vocab_file=spm_path, model_max_length=64)
    tok.save_pretrained(out)
    os.remove(spm_path)
    t = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
             max_position_embeddings=64, vocab_size=len(tok), hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6,
             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None)
    v = dict(hidden_size=16, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4, image_size=32,
             patch_size=8, num_channels=3, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    torch.manual_seed(2)
    model = SiglipModel(SiglipConfig(text_config=t, vision_config=v)).eval()
    redraw(model, 2, {"text_model.embeddings.token_embedding.weight": 0.5,
                      "vision_model.head.probe": 0.5,
                      "logit_scale": torch.tensor([2.3026]), "logit_bias": torch.tensor([-10.0])})
    model.save_pretrained(out)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    make_wide_image(out)

    model = SiglipModel.from_pretrained(out, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(out)
    assert type(tok) is SiglipTokenizer, type(tok)  # the only SigLIP tokenizer transformers has
    ids = tok(SIGLIP_TEXTS, padding=True, truncation=True, max_length=tok.model_max_length,
              return_tensors="pt")["input_ids"]
    images = open_images(out)
    pixels = SiglipImageProcessorPil.from_pretrained(out)(images=images, return_tensors="pt")["pixel_values"]
    tv = SiglipImageProcessor.from_pretrained(out)(images=images, return_tensors="pt")["pixel_values"]
    tv_diff = f"{(pixels - tv).abs().max().item():.3g}"
    print("SigLIP pixels: PIL vs torchvision processor max |diff|", tv_diff)
    with torch.no_grad():
        # As the reference (MedSigLIPForDiagnosis) calls it: input_ids only, no attention mask.
        img = model.get_image_features(pixel_values=pixels).pooler_output
        txt = model.get_text_features(input_ids=ids).pooler_output
        fwd = model(input_ids=ids, pixel_values=pixels)
    fixture_io.save_expected(out, {"input_ids": ids, "pixel_values": pixels},
                             {"image_embeds": img, "text_embeds": txt, "logits_per_image": fwd.logits_per_image})
    oracle = ("transformers SiglipModel.from_pretrained(attn_implementation='eager') in fp32: "
              "get_image_features(pixel_values).pooler_output, get_text_features(input_ids).pooler_output (no "
              "attention mask, as the reference calls it), forward().logits_per_image; ids from "
              "AutoTokenizer.from_pretrained (SiglipTokenizer on spiece.model, the only SigLIP tokenizer in "
              "transformers 5)(texts, padding=True, truncation=True, max_length=64); pixels from "
              "SiglipImageProcessorPil (transformers 4's default slow SiglipImageProcessor, PIL resize) on "
              "Image.open(path).convert('RGB')")
    return dict(generator=GENERATOR,
                library=fixture_io.versions("transformers", "sentencepiece", "protobuf", "pillow"), oracle=oracle,
                weights=WEIGHTS, processor_note=TV_NOTE.format(cls="SiglipImageProcessor", d=tv_diff))


def measured(folder):
    """The max_abs_diff_measured an earlier fixture.json holds (the C++ test's report, written in by hand):
    the generator is deterministic, so a rerun keeps it valid."""
    path = os.path.join(folder, "fixture.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        old = json.load(f)
    return {"max_abs_diff_measured": old["max_abs_diff_measured"]} if "max_abs_diff_measured" in old else {}


def check_pins(*packages):
    """Refuses to write fixtures with versions other than tests/oracles/requirements.txt pins (pillow's
    bicubic resize, for one, moved by one level between 12.3 and 13.0)."""
    pins = {}
    with open(os.path.join(HERE, "..", "requirements.txt")) as f:
        for line in f:
            if "==" in line and not line.lstrip().startswith("#"):
                name, ver = line.split("#")[0].strip().split("==")
                pins[name.lower()] = ver
    got = fixture_io.versions(*packages)
    bad = [f"{p} {v} (pinned {pins[p]})" for p, v in got.items() if p in pins and pins[p] != v.split("+")[0]]
    if bad:
        sys.exit("installed versions differ from tests/oracles/requirements.txt: " + ", ".join(bad))


def main():
    check_pins("transformers", "tokenizers", "sentencepiece", "pillow")
    clip_dir, bin_dir, siglip_dir = (os.path.join(ROOT, n) for n in ("tiny-clip", "tiny-clip-bin", "tiny-siglip"))
    kept = {d: measured(d) for d in (clip_dir, bin_dir, siglip_dir)}
    common, _ = make_clip(clip_dir, bin_dir)
    siglip = make_siglip(siglip_dir)
    clip_images = IMAGES + ["tests/fixtures/models/tiny-clip/" + WIDE_IMAGE]
    tolerance = {"features_fp32": 1e-4, "logits_per_image": 1e-3, "pixel_values": 1e-5, "input_ids": "exact"}
    fixture_io.write_fixture_json(clip_dir, **common, **kept[clip_dir], tolerance=tolerance, texts=CLIP_TEXTS,
                                  images=clip_images,
                                  format="transformers CLIPModel.save_pretrained (model.safetensors)")
    fixture_io.write_fixture_json(bin_dir, **common, **kept[bin_dir], tolerance=tolerance, texts=CLIP_TEXTS,
                                  images=clip_images, note="the same model and inputs as tiny-clip",
                                  format="pytorch_model.bin (torch.save of the CLIPModel state dict with the "
                                  "position_ids buffers, as transformers <= 4.30 wrote it)")
    fixture_io.write_fixture_json(siglip_dir, **siglip, **kept[siglip_dir], tolerance=tolerance,
                                  texts=SIGLIP_TEXTS,
                                  images=IMAGES + ["tests/fixtures/models/tiny-siglip/" + WIDE_IMAGE],
                                  format="transformers SiglipModel.save_pretrained (model.safetensors)")
    print("wrote", clip_dir, bin_dir, siglip_dir)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--clip-base":
        from transformers import CLIPModel
        out = sys.argv[2]
        os.makedirs(out, exist_ok=True)
        tok = clip_tokenizer()
        save_clip_tokenizer(tok, out)
        torch.manual_seed(0)
        CLIPModel(clip_config(len(tok), tok.bos_token_id, tok.eos_token_id, base=True)).save_pretrained(out)
        from transformers import CLIPImageProcessor
        CLIPImageProcessor(**clip_processor_settings(224)).save_pretrained(out)
        sys.exit(0)
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    main()
