#!/usr/bin/env python3
"""Writes tests/fixtures/models/tiny-pmcclip: a tiny PMC-CLIP in the folder layout the benchmark loads
(ubc-tea/MedVLMBench model/pmcclip.py reads ./pretrained_models/pmcclip/):

  image_encoder(resnet50).pth   ModifiedResNet state dict (MedVLMBench's class, PMC-CLIP's RN50 tower)
  text_encoder.pth              HF BertModel state dict (BiomedBERT)
  text_projection_layer.pth     the [768, 768] text projection tensor
  config.json, vocab.txt, tokenizer_config.json   the BERT sizes and tokenizer (from the hub there)
  pmc_clip.json                 what the reference hard-codes: attention-pool heads, logit_scale
  expected.safetensors          the published code's outputs (below)

There is no PyPI package; the oracle is MedVLMBench's model/pmcclip.py itself, run from a checkout (not
committed): its ModifiedResNet / AttentionPool2d (F.multi_head_attention_forward) loaded with
load_state_dict(torch.load(...)) as PMCCLIPForDiagnosis does, transformers' BertModel loaded the same
way, PMCCLIPForDiagnosis.encode_text run unbound on those modules, and its image_transform.

  .venv/bin/python tests/oracles/models/make_pmcclip_fixture.py --medvlmbench PATH_TO_MedVLMBench
Read by tests/models/pmcclip_test.cpp.
"""
import argparse
import json
import os
import sys
import types

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
from fixture_io import save_expected, versions, write_fixture_json  # noqa: E402
import published_code  # noqa: E402
from tiny_weights import (BERT_VOCAB, bert_config, bert_state, bn, lin, rnd, sample_images, write_json,  # noqa: E402
                          write_vocab)

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "models"))
OUT = os.path.join(FIXTURES, "tiny-pmcclip")
IMAGES = os.path.join(FIXTURES, "preprocess-images")
WIDTH, OUT_DIM, IMG, HEADS, LAYERS = 2, 16, 64, 2, [1, 1, 1, 1]
DT, HEADS_T, LAYERS_T, MLP_T = 16, 4, 2, 24
LOGIT_SCALE = 4.4292  # PMCCLIPForDiagnosis: nn.Parameter(torch.tensor(4.4292))
TEXTS = ["a photo of chest xray", "benign fundus", "pneumonia"]
# Largest |ours - published code| that tests/models/pmcclip_test.cpp printed on this machine (fp32, CPU).
MEASURED = 1.8e-07
# ... and between our preprocessing and the published one on the images of preprocess-images/.
MEASURED_PREPROCESS = 0.0


def write_checkpoint():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(4)
    write_vocab(OUT)
    write_json(os.path.join(OUT, "tokenizer_config.json"),
               {"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"})
    img_sd = {}
    for name, cin, cout in (("conv1", 3, WIDTH // 2), ("conv2", WIDTH // 2, WIDTH // 2), ("conv3", WIDTH // 2, WIDTH)):
        img_sd[name + ".weight"] = rnd(cout, cin, 3, 3, std=(cin * 9) ** -0.5)
        bn(img_sd, "bn" + name[-1], cout)
    inplanes = WIDTH
    for s in range(4):
        planes = WIDTH << s
        p = f"layer{s + 1}.0"
        img_sd[p + ".conv1.weight"] = rnd(planes, inplanes, 1, 1, std=inplanes ** -0.5)
        bn(img_sd, p + ".bn1", planes)
        img_sd[p + ".conv2.weight"] = rnd(planes, planes, 3, 3, std=(planes * 9) ** -0.5)
        bn(img_sd, p + ".bn2", planes)
        img_sd[p + ".conv3.weight"] = rnd(planes * 4, planes, 1, 1, std=planes ** -0.5)
        bn(img_sd, p + ".bn3", planes * 4)
        img_sd[p + ".downsample.0.weight"] = rnd(planes * 4, inplanes, 1, 1, std=inplanes ** -0.5)
        bn(img_sd, p + ".downsample.1", planes * 4)
        inplanes = planes * 4
    embed = WIDTH * 32
    img_sd["attnpool.positional_embedding"] = rnd((IMG // 32) ** 2 + 1, embed, std=embed ** -0.5)
    for n in ("q_proj", "k_proj", "v_proj"):
        lin(img_sd, "attnpool." + n, embed, embed)
    lin(img_sd, "attnpool.c_proj", embed, OUT_DIM)
    torch.save(img_sd, os.path.join(OUT, "image_encoder(resnet50).pth"))
    txt_sd = {}
    bert_state(txt_sd, "", len(BERT_VOCAB), DT, MLP_T, LAYERS_T)
    torch.save(txt_sd, os.path.join(OUT, "text_encoder.pth"))
    torch.save(rnd(DT, OUT_DIM, std=0.25), os.path.join(OUT, "text_projection_layer.pth"))
    write_json(os.path.join(OUT, "config.json"), bert_config(DT, HEADS_T, LAYERS_T, MLP_T, len(BERT_VOCAB)))
    write_json(os.path.join(OUT, "pmc_clip.json"), {"heads": HEADS, "logit_scale": LOGIT_SCALE})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--medvlmbench", required=True,
                    help="a checkout (or bare git dir) of github.com/ubc-tea/MedVLMBench, for its model/pmcclip.py")
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.makedirs(IMAGES, exist_ok=True)
    write_checkpoint()
    images = sample_images(IMAGES)

    from PIL import Image
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    P = published_code.Placeholder
    bench, commit = published_code.load_module(
        args.medvlmbench, "model/pmcclip.py", "medvlmbench_pmcclip",
        {"model.clip_base": {"CLIPBase": P, "ImageProcessorCallable": P}, "model.lp_base": {"LPModel": P}})
    # PMCCLIPForDiagnosis.__init__'s loading, at the fixture's sizes and paths.
    image_encoder = bench.ModifiedResNet(layers=LAYERS, output_dim=OUT_DIM, heads=HEADS, image_size=IMG, width=WIDTH)
    image_encoder.load_state_dict(torch.load(os.path.join(OUT, "image_encoder(resnet50).pth")))
    text_encoder = AutoModel.from_config(AutoConfig.from_pretrained(OUT))
    text_encoder.load_state_dict(torch.load(os.path.join(OUT, "text_encoder.pth")))
    model = bench.PMCCLIPModel(image_encoder, text_encoder).eval()
    reference = types.SimpleNamespace(
        num_classes=len(TEXTS), model=model, tokenizer=AutoTokenizer.from_pretrained(OUT),
        text_projection_layer=torch.nn.Parameter(torch.load(os.path.join(OUT, "text_projection_layer.pth"))),
        logit_scale=torch.nn.Parameter(torch.tensor(LOGIT_SCALE)))

    inputs, outputs = {}, {}
    torch.manual_seed(5)
    px = torch.randn(2, 3, IMG, IMG)
    with torch.no_grad():
        img = bench.PMCCLIPForDiagnosis.encode_image(reference, px)
        txt = bench.PMCCLIPForDiagnosis.encode_text(reference, TEXTS)
        enc = reference.tokenizer(TEXTS, return_tensors="pt", padding=True, truncation=True, max_length=512)
        inputs.update(pixel_values=px, input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        # The reference never combines the two itself (PMCCLIPModel has no forward): CLIP's logits,
        # exp(logit_scale) * cosine, with its logit_scale.
        logits = reference.logit_scale.exp() * F.normalize(img, dim=-1) @ txt.t()
        outputs.update(image_embeds=img, text_embeds=txt, logits_per_image=logits)
        transform = bench.image_transform(image_size=IMG, is_train=False)
        for path in images:
            name = os.path.splitext(os.path.basename(path))[0]
            x = transform(Image.open(path))
            outputs["preprocessed_" + name] = x
            outputs["preprocessed_image_embeds_" + name] = bench.PMCCLIPForDiagnosis.encode_image(reference, x[None])[0]
    save_expected(OUT, inputs, outputs)
    write_fixture_json(
        OUT, generator="tests/oracles/models/make_pmcclip_fixture.py", library=versions("transformers"),
        published_code={"repo": "github.com/ubc-tea/MedVLMBench", "commit": commit, "file": "model/pmcclip.py"},
        oracle="MedVLMBench model/pmcclip.py: ModifiedResNet(layers=[1, 1, 1, 1], output_dim=16, heads=2, "
               "image_size=64, width=2).load_state_dict(torch.load(image_encoder(resnet50).pth)); transformers "
               "BertModel (AutoModel.from_config) .load_state_dict(torch.load(text_encoder.pth)); "
               "PMCCLIPForDiagnosis.encode_image / encode_text (run unbound on those modules, its tokenizer call on "
               + repr(TEXTS) + "); image_transform(image_size=64, is_train=False) on the images of "
               "tests/fixtures/models/preprocess-images; logits = exp(4.4292) * cos (the reference has no forward "
               "combining them)",
        adaptations=["model.clip_base / model.lp_base (MedVLMBench's training and evaluation framework, base "
                     "classes of the wrappers) are placeholders; the model code runs unchanged",
                     "the text tower is built with AutoModel.from_config(config.json of the fixture) instead of "
                     "from_pretrained(hub name), then loaded from text_encoder.pth as the reference does"],
        format="PMC-CLIP .pth folder (MedVLMBench pretrained_models/pmcclip)",
        weights="seeded random (torch.manual_seed(4))", tolerance=1e-4, max_abs_diff_measured=MEASURED,
        max_abs_diff_measured_preprocess=MEASURED_PREPROCESS)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
