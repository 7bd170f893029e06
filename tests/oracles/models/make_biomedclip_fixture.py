#!/usr/bin/env python3
"""Writes tests/fixtures/models/tiny-biomedclip: a tiny BiomedCLIP in the layout of
microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224 (open_clip_config.json,
open_clip_pytorch_model.bin, BERT tokenizer files), and expected.safetensors with what open_clip
computes on it, loaded as a user loads the release:

  model, preprocess = open_clip.create_model_from_pretrained("local-dir:<fixture>")
  tokenizer = open_clip.get_tokenizer("local-dir:<fixture>")

open_clip builds the vision tower with timm (timm_model_name) and the text tower with transformers
(hf_model_name, AutoConfig + AutoModel.from_config). For tiny sizes, this generator
  - registers a timm model "vit_tiny_biomedclip_test" (timm's own VisionTransformer with vit_base's
    options: class token, pre-LN blocks with fused qkv, LayerNorm eps 1e-6, final norm, token pool),
    which the fixture's open_clip_config.json names instead of vit_base_patch16_224;
  - keeps the release's hf_model_name (microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract) and serves
    its config.json, at tiny sizes, from a temporary Hugging Face cache (HF_HUB_OFFLINE=1: nothing is
    downloaded).
Sizes the C++ loader cannot read from the weights are open_clip config fields that the timm/HF towers
ignore: vision_cfg.head_width (timm's heads = width / 64 for every ViT) and text_cfg.heads.

  .venv/bin/python tests/oracles/models/make_biomedclip_fixture.py      (bash scripts/oracle_env.sh first)
Read by tests/models/biomedclip_test.cpp.
"""
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
from fixture_io import save_expected, versions, write_fixture_json  # noqa: E402
from tiny_weights import (BERT_VOCAB, bert_config, bert_state, ln, lin, rnd, sample_images, write_json,  # noqa: E402
                          write_vocab)

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "models"))
OUT = os.path.join(FIXTURES, "tiny-biomedclip")
IMAGES = os.path.join(FIXTURES, "preprocess-images")
HF_TEXT = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract"
TIMM_NAME = "vit_tiny_biomedclip_test"
DV, MLP_V, DEPTH, PATCH, IMG, HEADS_V = 16, 32, 2, 8, 32, 4
DT, MLP_T, LAYERS_T, HEADS_T, EMBED, MAX_POS = 16, 24, 2, 4, 12, 64
TEXTS = ["a photo of chest xray", "a photo of benign fundus", "pneumonia"]
# Largest |ours - open_clip| that tests/models/biomedclip_test.cpp printed on this machine (fp32, CPU).
MEASURED = 6.0e-07
# ... and between our preprocessing and the published one on the images of preprocess-images/.
MEASURED_PREPROCESS = 0.0


def state_dict():
    """open_clip CustomTextCLIP names (visual.trunk.* timm ViT, visual.head.proj, text.transformer.* BERT
    with the position_ids buffer the release keeps, text.proj.0/2 MLP, logit_scale)."""
    torch.manual_seed(3)
    sd = {}
    sd["visual.trunk.cls_token"] = rnd(1, 1, DV, std=0.5)
    sd["visual.trunk.pos_embed"] = rnd(1, (IMG // PATCH) ** 2 + 1, DV)
    sd["visual.trunk.patch_embed.proj.weight"] = rnd(DV, 3, PATCH, PATCH, std=0.05)
    sd["visual.trunk.patch_embed.proj.bias"] = rnd(DV, std=0.1)
    for i in range(DEPTH):
        p = f"visual.trunk.blocks.{i}"
        ln(sd, p + ".norm1", DV)
        lin(sd, p + ".attn.qkv", DV, 3 * DV)
        lin(sd, p + ".attn.proj", DV, DV)
        ln(sd, p + ".norm2", DV)
        lin(sd, p + ".mlp.fc1", DV, MLP_V)
        lin(sd, p + ".mlp.fc2", MLP_V, DV)
    ln(sd, "visual.trunk.norm", DV)
    sd["visual.head.proj.weight"] = rnd(EMBED, DV, std=DV ** -0.5)
    bert_state(sd, "text.transformer.", len(BERT_VOCAB), DT, MLP_T, LAYERS_T, max_pos=MAX_POS, position_ids=True)
    # open_clip builds BERT without its pooler for the CLS pooler type, so the release has none.
    del sd["text.transformer.pooler.dense.weight"], sd["text.transformer.pooler.dense.bias"]
    hidden = (DT + EMBED) // 2
    sd["text.proj.0.weight"] = rnd(hidden, DT, std=DT ** -0.5)
    sd["text.proj.2.weight"] = rnd(EMBED, hidden, std=hidden ** -0.5)
    sd["logit_scale"] = torch.tensor(4.6052)
    return sd


def register_tiny_timm_vit():
    from timm.models import register_model
    from timm.models.vision_transformer import _create_vision_transformer

    @register_model
    def vit_tiny_biomedclip_test(pretrained=False, **kwargs):
        # vit_base_patch16_224's builder with tiny sizes (timm's defaults otherwise, as vit_base's).
        args = dict(img_size=IMG, patch_size=PATCH, embed_dim=DV, depth=DEPTH, num_heads=HEADS_V,
                    mlp_ratio=MLP_V / DV)
        return _create_vision_transformer(TIMM_NAME, pretrained=pretrained, **dict(args, **kwargs))


def fake_hub_cache(root):
    """A Hugging Face cache holding only HF_TEXT's config.json (tiny), for offline AutoConfig."""
    repo = os.path.join(root, "models--" + HF_TEXT.replace("/", "--"))
    rev = "0" * 40
    snap = os.path.join(repo, "snapshots", rev)
    os.makedirs(snap)
    os.makedirs(os.path.join(repo, "refs"))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(rev)
    write_json(os.path.join(snap, "config.json"), bert_config(DT, HEADS_T, LAYERS_T, MLP_T, len(BERT_VOCAB), MAX_POS))


def write_checkpoint():
    os.makedirs(OUT, exist_ok=True)
    write_vocab(OUT)
    special = {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
               "mask_token": "[MASK]"}
    write_json(os.path.join(OUT, "tokenizer_config.json"),
               dict(special, do_lower_case=True, model_max_length=256, tokenizer_class="BertTokenizer"))
    write_json(os.path.join(OUT, "special_tokens_map.json"), special)
    write_json(os.path.join(OUT, "open_clip_config.json"), {
        "model_cfg": {"embed_dim": EMBED,
                      "vision_cfg": {"timm_model_name": TIMM_NAME, "timm_model_pretrained": False, "timm_pool": "",
                                     "timm_proj": "linear", "image_size": IMG, "head_width": DV // HEADS_V},
                      "text_cfg": {"hf_model_name": HF_TEXT, "hf_tokenizer_name": HF_TEXT, "hf_proj_type": "mlp",
                                   "hf_pooler_type": "cls_last_hidden_state_pooler",
                                   # the release's 256 exceeds the tiny BERT's positions
                                   "context_length": MAX_POS, "heads": HEADS_T}},
        "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}})
    torch.save(state_dict(), os.path.join(OUT, "open_clip_pytorch_model.bin"))


def main():
    os.makedirs(IMAGES, exist_ok=True)
    write_checkpoint()
    images = sample_images(IMAGES)
    with tempfile.TemporaryDirectory() as hub:
        fake_hub_cache(hub)
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_HUB_CACHE"] = hub
        import open_clip
        from PIL import Image
        register_tiny_timm_vit()
        model, preprocess = open_clip.create_model_from_pretrained("local-dir:" + OUT)
        tokenizer = open_clip.get_tokenizer("local-dir:" + OUT)
        model.eval()
        assert model.text.transformer.config.num_attention_heads == HEADS_T
        assert model.visual.trunk.blocks[0].attn.num_heads == HEADS_V
        inputs, outputs = {}, {}
        # [CLS] a photo of chest [SEP] [PAD] / [CLS] benign fundus [SEP] [PAD] [PAD] [PAD]
        ids = torch.tensor([[2, 5, 6, 7, 8, 3, 0], [2, 14, 15, 3, 0, 0, 0]])
        torch.manual_seed(4)
        px = torch.randn(2, 3, IMG, IMG)
        with torch.no_grad():
            img_n, txt_n, scale = model(px, ids)
            inputs.update(pixel_values=px, input_ids=ids)
            outputs.update(image_embeds=model.encode_image(px), text_embeds=model.encode_text(ids),
                           logits_per_image=scale * img_n @ txt_n.t())
            tok = tokenizer(TEXTS)
            inputs["tok_input_ids"] = tok
            outputs["tok_text_embeds"] = model.encode_text(tok)
            for path in images:
                name = os.path.splitext(os.path.basename(path))[0]
                x = preprocess(Image.open(path))
                outputs["preprocessed_" + name] = x
                outputs["preprocessed_image_embeds_" + name] = model.encode_image(x.unsqueeze(0))[0]
    save_expected(OUT, inputs, outputs)
    write_fixture_json(
        OUT, generator="tests/oracles/models/make_biomedclip_fixture.py",
        library=versions("open_clip_torch", "timm", "transformers"),
        oracle="open_clip.create_model_from_pretrained('local-dir:<fixture>') -> CustomTextCLIP (TimmModel over "
               "timm VisionTransformer, HFTextEncoder over transformers BertModel) and its preprocess; "
               "open_clip.get_tokenizer('local-dir:<fixture>') on " + repr(TEXTS) + "; encode_image, "
               "encode_text, forward (normalised features, logit_scale.exp()) -> logits_per_image",
        adaptations=[
            f"timm model {TIMM_NAME!r} registered by the generator (timm's _create_vision_transformer, "
            "vit_base's options at tiny sizes) and named by open_clip_config.json instead of vit_base_patch16_224",
            f"{HF_TEXT}'s config.json served at tiny sizes from a temporary Hugging Face cache (offline)",
            "text_cfg.context_length 64 (the release: 256) to fit the tiny BERT's positions",
        ],
        format="open_clip (open_clip_config.json + open_clip_pytorch_model.bin + BERT tokenizer files)",
        weights="seeded random (torch.manual_seed(3))", tolerance=1e-4, max_abs_diff_measured=MEASURED,
        max_abs_diff_measured_preprocess=MEASURED_PREPROCESS,
        note="vision_cfg.head_width and text_cfg.heads give the tiny head counts (open_clip config fields the "
             "timm/HF towers ignore; the release has neither: 768 / 64 = 12 heads)")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
