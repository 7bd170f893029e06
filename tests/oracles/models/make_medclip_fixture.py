#!/usr/bin/env python3
"""Writes tests/fixtures/models/tiny-medclip: a tiny MedCLIP-ViT in the release's layout, and the
outputs of the published MedCLIP code on it.

  pytorch_model.bin   MedCLIPModel state dict as the release (medclip-vit-pretrained.zip) holds it:
                      vision_model.model.* (HF SwinModel, transformers 4 names with relative_position_index),
                      vision_model.projection_head.weight, text_model.model.* (HF BertModel, with the
                      position_ids buffer), text_model.projection_head.weight, logit_scale
  swin_config.json    the Swin sizes (config.json of microsoft/swin-tiny-patch4-window7-224 in the release)
  config.json, vocab.txt   Bio_ClinicalBERT's files (it has no tokenizer_config.json)
  expected.safetensors     inputs and the published code's outputs (below)

The oracle is the PyPI package medclip==0.0.3 (RyanWangZf/MedCLIP: MedCLIPModel, MedCLIPVisionModelViT,
MedCLIPTextModel over transformers' SwinModel and BertModel) and, for preprocessing, the benchmark's own
MedCLIPFeatureExtractor in ubc-tea/MedVLMBench model/medclip.py, run from a checkout (not committed):

  .venv/bin/python tests/oracles/models/make_medclip_fixture.py --medvlmbench PATH_TO_MedVLMBench

What the generator adapts around the published code, and why (each is recorded in fixture.json):
  - medclip/__init__.py imports its training dataset module, which needs transformers 4's
    CLIPFeatureExtractor alias (removed in transformers 5: it was CLIPImageProcessor) and nltk (used
    only by its training datasets): the alias is restored and nltk given an empty module;
  - MedCLIP hard-codes the hub names of its towers (constants.VIT_TYPE, MedCLIPTextModel's bert_type
    default): they point at local folders holding the tiny towers (never downloaded);
  - its projection heads are built as Linear(768, 512): replaced by the tiny sizes before loading;
  - its encode_text/forward move inputs with .cuda(): Tensor.cuda is the identity while it runs (CPU);
  - transformers 5 renamed SwinModel's modules (attention.q_proj ...), so the release's single state
    dict no longer loads into MedCLIPModel by name: the towers load through AutoModel.from_pretrained
    (MedCLIP's own call, whose key mapping reads the release names), the heads and logit_scale by name.
"""
import argparse
import os
import sys
import tempfile
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
from fixture_io import save_expected, versions, write_fixture_json  # noqa: E402
import published_code  # noqa: E402
from tiny_weights import (BERT_VOCAB, bert_config, bert_state, ln, lin, rnd, sample_images, subtree,  # noqa: E402
                          write_json, write_vocab)

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "models"))
OUT = os.path.join(FIXTURES, "tiny-medclip")
IMAGES = os.path.join(FIXTURES, "preprocess-images")
IMG, PATCH, DIM, DEPTHS, HEADS, WIN, MLP_RATIO, PROJ = 52, 2, 8, [2, 2, 2], [2, 2, 4], 3, 2.0, 12
DT, LAYERS_T, HEADS_T, MLP_T = 16, 3, 4, 24
TEXTS = ["a photo of chest xray", "pneumonia"]
# Largest |ours - published code| that tests/models/medclip_test.cpp printed on this machine (fp32, CPU).
MEASURED = 1.5e-07
# ... and between our preprocessing and the published one on the images of preprocess-images/.
MEASURED_PREPROCESS = 2.4e-07


def release_state_dict():
    """Sizes make every Swin block pad its map to the window (26 -> 27, 13 -> 15, 7 -> 9 with window 3),
    shift it, and one patch merging see an odd size (13 -> 7); a 53-pixel input adds the patch
    embedding's own padding. Three text layers, so hidden_states[2] and [-1] differ."""
    torch.manual_seed(5)
    sd = {}
    v = "vision_model.model."
    sd[v + "embeddings.patch_embeddings.projection.weight"] = rnd(DIM, 3, PATCH, PATCH, std=0.3)
    # A large patch bias keeps brightness visible after the per-token LayerNorm (else a random tower maps
    # every demo radiograph to nearly one feature and the lp demo cannot learn).
    sd[v + "embeddings.patch_embeddings.projection.bias"] = rnd(DIM, std=2.0)
    ln(sd, v + "embeddings.norm", DIM)
    coords = torch.stack(torch.meshgrid([torch.arange(WIN), torch.arange(WIN)], indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += WIN - 1
    rel[:, :, 1] += WIN - 1
    rel[:, :, 0] *= 2 * WIN - 1
    for i, (depth, h) in enumerate(zip(DEPTHS, HEADS)):
        d = DIM << i
        for j in range(depth):
            p = f"{v}encoder.layers.{i}.blocks.{j}"
            ln(sd, p + ".layernorm_before", d)
            sd[p + ".attention.self.relative_position_bias_table"] = rnd((2 * WIN - 1) ** 2, h, std=0.5)
            sd[p + ".attention.self.relative_position_index"] = rel.sum(-1)  # a buffer transformers 4 saved
            for n in ("query", "key", "value"):
                lin(sd, f"{p}.attention.self.{n}", d, d)
            lin(sd, p + ".attention.output.dense", d, d)
            ln(sd, p + ".layernorm_after", d)
            lin(sd, p + ".intermediate.dense", d, int(MLP_RATIO * d))
            lin(sd, p + ".output.dense", int(MLP_RATIO * d), d)
        if i + 1 < len(DEPTHS):
            sd[f"{v}encoder.layers.{i}.downsample.reduction.weight"] = rnd(2 * d, 4 * d, std=(4 * d) ** -0.5)
            ln(sd, f"{v}encoder.layers.{i}.downsample.norm", 4 * d)
    final = DIM << (len(DEPTHS) - 1)
    ln(sd, v + "layernorm", final)
    sd["vision_model.projection_head.weight"] = rnd(PROJ, final, std=final ** -0.5)
    sd["text_model.model.embeddings.position_ids"] = torch.arange(64).unsqueeze(0)
    bert_state(sd, "text_model.model.", len(BERT_VOCAB), DT, MLP_T, LAYERS_T)
    sd["text_model.projection_head.weight"] = rnd(PROJ, DT, std=DT ** -0.5)
    sd["logit_scale"] = torch.tensor(4.9)  # above MedCLIP's clamp (4.6052), so the clamp is exercised
    return sd


SWIN_CONFIG = {"architectures": ["SwinForImageClassification"], "model_type": "swin", "image_size": IMG,
               "patch_size": PATCH, "num_channels": 3, "embed_dim": DIM, "depths": DEPTHS, "num_heads": HEADS,
               "window_size": WIN, "mlp_ratio": MLP_RATIO, "qkv_bias": True, "hidden_act": "gelu",
               "layer_norm_eps": 1e-5, "use_absolute_embeddings": False, "drop_path_rate": 0.1,
               "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "encoder_stride": 32}


def import_medclip():
    """medclip==0.0.3 under transformers 5 (see the module docstring for the two import shims)."""
    import transformers
    image_processor = transformers.CLIPImageProcessor
    # Set on the module object in sys.modules, read after the attribute access above: transformers'
    # lazy loader may replace that object, and `from transformers import X` reads sys.modules.
    lazy = sys.modules["transformers"]
    if "CLIPFeatureExtractor" not in lazy.__dict__:
        lazy.CLIPFeatureExtractor = image_processor
    try:
        import nltk  # noqa: F401
    except ImportError:
        sys.modules["nltk"] = types.ModuleType("nltk")
    try:
        import medclip
        from medclip import modeling_medclip
    except ImportError as e:
        sys.exit(f"medclip is not importable ({e}): bash scripts/oracle_env.sh installs it "
                 "(tests/oracles/requirements-nodeps.txt)")
    return medclip, modeling_medclip


def build_published_model(sd, work):
    """MedCLIPModel(vision_cls=MedCLIPVisionModelViT) with the release state dict `sd` loaded."""
    from safetensors.torch import load_file, save_file
    medclip, mm = import_medclip()
    swin_dir, bert_dir = os.path.join(work, "swin"), os.path.join(work, "bert")
    for d, cfg, prefix in ((swin_dir, SWIN_CONFIG, "vision_model.model."),
                           (bert_dir, bert_config(DT, HEADS_T, LAYERS_T, MLP_T, len(BERT_VOCAB)), "text_model.model.")):
        os.makedirs(d)
        write_json(os.path.join(d, "config.json"), cfg)
        save_file({k: v.contiguous() for k, v in subtree(sd, prefix).items()}, os.path.join(d, "model.safetensors"),
                  metadata={"format": "pt"})
    write_vocab(bert_dir)
    mm.constants.VIT_TYPE = swin_dir
    defaults = list(mm.MedCLIPTextModel.__init__.__defaults__)
    defaults[0] = bert_dir  # bert_type, bound at definition time to constants.BERT_TYPE
    mm.MedCLIPTextModel.__init__.__defaults__ = tuple(defaults)
    model = mm.MedCLIPModel(vision_cls=mm.MedCLIPVisionModelViT)
    model.vision_model.projection_head = torch.nn.Linear(DIM << (len(DEPTHS) - 1), PROJ, bias=False)
    model.text_model.projection_head = torch.nn.Linear(DT, PROJ, bias=False)
    rest = {k: v for k, v in sd.items() if not k.startswith(("vision_model.model.", "text_model.model."))}
    r = model.load_state_dict(rest, strict=False)
    assert not r.unexpected_keys, r.unexpected_keys
    # Every tower tensor was found: saving the towers back gives the release tensors (less the buffers
    # transformers 5 no longer persists).
    towers = ((model.vision_model.model, "vision_model.model."), (model.text_model.model, "text_model.model."))
    for tower, prefix in towers:
        tower.save_pretrained(os.path.join(work, "check"))
        back = load_file(os.path.join(work, "check", "model.safetensors"))
        buffers = ("relative_position_index", "position_ids")
        want = {k: v for k, v in subtree(sd, prefix).items() if not k.endswith(buffers)}
        assert set(back) == set(want), (set(back) ^ set(want))
        for k in want:
            assert torch.equal(back[k], want[k]), k
    model.eval()
    return model, bert_dir


class cpu_cuda:
    """MedCLIPModel.encode_text/forward call .cuda() on their inputs: the identity while this is active."""

    def __enter__(self):
        self.saved = torch.Tensor.cuda
        torch.Tensor.cuda = lambda self, *a, **k: self
        return self

    def __exit__(self, *exc):
        torch.Tensor.cuda = self.saved


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--medvlmbench", required=True,
                    help="a checkout (or bare git dir) of github.com/ubc-tea/MedVLMBench, for its model/medclip.py")
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(IMAGES, exist_ok=True)
    sd = release_state_dict()
    torch.save(sd, os.path.join(OUT, "pytorch_model.bin"))
    write_json(os.path.join(OUT, "swin_config.json"), SWIN_CONFIG)
    write_json(os.path.join(OUT, "config.json"), bert_config(DT, HEADS_T, LAYERS_T, MLP_T, len(BERT_VOCAB)))
    write_vocab(OUT)
    images = sample_images(IMAGES)

    with tempfile.TemporaryDirectory() as work:
        model, bert_dir = build_published_model(dict(torch.load(os.path.join(OUT, "pytorch_model.bin"))), work)
        medclip, mm = import_medclip()
        inputs, outputs = {}, {}
        # Padded rows: MedCLIP's text pooling averages every position, padding included.
        ids = torch.tensor([[2, 5, 6, 7, 8, 3], [2, 14, 15, 3, 0, 0]])
        mask = (ids != 0).long()
        inputs.update(input_ids=ids, attention_mask=mask)
        with torch.no_grad(), cpu_cuda():
            for side in (52, 53):
                torch.manual_seed(side)
                px = torch.randn(2, 3, side, side)
                out = model(input_ids=ids, pixel_values=px, attention_mask=mask)
                inputs[f"pixel_values_{side}"] = px
                outputs[f"img_embeds_{side}"] = out["img_embeds"]
                outputs[f"logits_{side}"] = out["logits"]
                outputs["text_embeds"] = out["text_embeds"]
            outputs["logit_scale"] = model.logit_scale.detach().clone()  # clamped by compute_logits
            # The tokenizer MedCLIPProcessor builds (AutoTokenizer of the BERT folder, model_max_length 77),
            # and transformers' BertModel hidden states (what MedCLIPTextModel pools) on its output.
            from transformers import AutoTokenizer
            tok = AutoTokenizer.from_pretrained(bert_dir)
            tok.model_max_length = 77
            enc = tok(TEXTS, return_tensors="pt", padding=True, truncation=True)
            inputs.update(tok_input_ids=enc["input_ids"], tok_attention_mask=enc["attention_mask"])
            hs = model.text_model.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                        output_hidden_states=True).hidden_states
            outputs["tok_hidden_states"] = torch.stack(hs)
            outputs["tok_text_embeds"] = model.encode_text(enc["input_ids"], enc["attention_mask"])

        # The benchmark's MedCLIPFeatureExtractor (MedVLMBench model/medclip.py) at this model's size.
        from PIL import Image
        bench, commit = published_code.load_module(
            args.medvlmbench, "model/medclip.py", "medvlmbench_medclip",
            {"model.clip_base": {"CLIPBase": published_code.Placeholder, "CLIPImgLPModel": published_code.Placeholder,
                                 "ImageProcessorCallable": published_code.Placeholder},
             "model.lora_base": {"LoRALPModel": published_code.Placeholder}})
        fe = bench.MedCLIPFeatureExtractor(crop_size=(IMG, IMG), size=IMG)
        with torch.no_grad(), cpu_cuda():
            for path in images:
                name = os.path.splitext(os.path.basename(path))[0]
                px = fe(Image.open(path)).unsqueeze(0)
                outputs["preprocessed_" + name] = px[0]
                outputs["preprocessed_img_embeds_" + name] = model.encode_image(px)[0]

    save_expected(OUT, inputs, outputs)
    write_fixture_json(
        OUT, generator="tests/oracles/models/make_medclip_fixture.py",
        library=versions("transformers", "medclip"),
        published_code={"repo": "github.com/ubc-tea/MedVLMBench", "commit": commit, "file": "model/medclip.py",
                        "run": "MedCLIPFeatureExtractor(crop_size=(52, 52), size=52) on the images of "
                               "tests/fixtures/models/preprocess-images"},
        oracle="medclip.MedCLIPModel(vision_cls=MedCLIPVisionModelViT)(input_ids, pixel_values, attention_mask) "
               "-> img_embeds, text_embeds, logits; MedCLIPModel.encode_text / encode_image; "
               "transformers BertModel(output_hidden_states=True) under text_model.model; AutoTokenizer of the BERT "
               "folder with model_max_length 77 (as MedCLIPProcessor) on " + repr(TEXTS),
        adaptations=[
            "transformers.CLIPFeatureExtractor = CLIPImageProcessor (alias removed in transformers 5; "
            "medclip/dataset.py subclasses it at import)",
            "nltk: an empty module when not installed (medclip/dataset.py imports it for its training datasets)",
            "constants.VIT_TYPE and MedCLIPTextModel's bert_type default point at local folders with the tiny "
            "Swin / BERT (config.json + the release's tower tensors), loaded by MedCLIP's own "
            "AutoModel.from_pretrained calls",
            "projection heads rebuilt at the tiny sizes (MedCLIP hard-codes Linear(768, 512)), then loaded "
            "with logit_scale by name",
            "torch.Tensor.cuda is the identity while the model runs (MedCLIP moves inputs with .cuda())",
        ],
        format="MedCLIP-ViT release folder (pytorch_model.bin + swin_config.json + Bio_ClinicalBERT "
               "config.json/vocab.txt)",
        weights="seeded random (torch.manual_seed(5))", tolerance=1e-4, max_abs_diff_measured=MEASURED,
        max_abs_diff_measured_preprocess=MEASURED_PREPROCESS)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
