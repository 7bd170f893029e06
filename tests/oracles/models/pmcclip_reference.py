#!/usr/bin/env python3
"""Reference PMC-CLIP forward on python3-torch, ported line by line from ubc-tea/MedVLMBench
model/pmcclip.py @ b589983 (Bottleneck, AttentionPool2d with F.multi_head_attention_forward,
ModifiedResNet.stem/forward; PMCCLIPForDiagnosis.encode_text: normalize(CLS @ text_projection_layer))
and transformers' BERT (via biomedclip_reference.bert). Independent of the C++ code.

usage: pmcclip_reference.py CHECKPOINT_DIR INPUTS.safetensors OUTPUT.safetensors
  inputs: pixel_values [N,3,S,S], input_ids [T,L], attention_mask [T,L]
  outputs: image_embeds, text_embeds (normalised, as the reference), logits_per_image
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import st_io  # noqa: E402
from biomedclip_reference import bert  # noqa: E402


def bn(sd, p, x):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"],
                        False, 0.0, 1e-5)


def bottleneck(sd, p, x, stride):
    identity = x
    out = F.relu(bn(sd, p + ".bn1", F.conv2d(x, sd[p + ".conv1.weight"])))
    out = F.relu(bn(sd, p + ".bn2", F.conv2d(out, sd[p + ".conv2.weight"], padding=1)))
    out = F.avg_pool2d(out, stride) if stride > 1 else out
    out = bn(sd, p + ".bn3", F.conv2d(out, sd[p + ".conv3.weight"]))
    if p + ".downsample.0.weight" in sd:
        d = F.avg_pool2d(x, stride) if stride > 1 else x
        identity = bn(sd, p + ".downsample.1", F.conv2d(d, sd[p + ".downsample.0.weight"]))
    return F.relu(out + identity)


def attnpool(sd, x, heads):
    x = x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3]).permute(2, 0, 1)
    x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
    x = x + sd["attnpool.positional_embedding"][:, None, :].to(x.dtype)
    x, _ = F.multi_head_attention_forward(
        query=x, key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=heads,
        q_proj_weight=sd["attnpool.q_proj.weight"], k_proj_weight=sd["attnpool.k_proj.weight"],
        v_proj_weight=sd["attnpool.v_proj.weight"], in_proj_weight=None,
        in_proj_bias=torch.cat([sd["attnpool.q_proj.bias"], sd["attnpool.k_proj.bias"], sd["attnpool.v_proj.bias"]]),
        bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0, out_proj_weight=sd["attnpool.c_proj.weight"],
        out_proj_bias=sd["attnpool.c_proj.bias"], use_separate_proj_weight=True, training=False, need_weights=False)
    return x[0]


def image_encoder(sd, x, heads):
    x = F.relu(bn(sd, "bn1", F.conv2d(x, sd["conv1.weight"], stride=2, padding=1)))
    x = F.relu(bn(sd, "bn2", F.conv2d(x, sd["conv2.weight"], padding=1)))
    x = F.relu(bn(sd, "bn3", F.conv2d(x, sd["conv3.weight"], padding=1)))
    x = F.avg_pool2d(x, 2)
    for s in range(1, 5):
        b = 0
        while f"layer{s}.{b}.conv1.weight" in sd:
            x = bottleneck(sd, f"layer{s}.{b}", x, 2 if (b == 0 and s > 1) else 1)
            b += 1
    return attnpool(sd, x, heads)


def main(ckpt, inputs_path, out_path):
    extra = json.load(open(os.path.join(ckpt, "pmc_clip.json")))
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    img_sd = dict(torch.load(os.path.join(ckpt, "image_encoder(resnet50).pth"), map_location="cpu"))
    txt_sd = {"text.transformer." + k: v for k, v in torch.load(os.path.join(ckpt, "text_encoder.pth")).items()}
    proj = torch.load(os.path.join(ckpt, "text_projection_layer.pth"))
    inp = st_io.load(inputs_path)
    with torch.no_grad():
        img = image_encoder(img_sd, inp["pixel_values"].float(), extra["heads"])
        head_width = cfg["hidden_size"] // cfg["num_attention_heads"]
        cls = bert(txt_sd, {"head_width": head_width}, inp["input_ids"].long(), inp["attention_mask"].long())[:, 0, :]
        txt = F.normalize(cls @ proj, dim=-1)
        logits = math.exp(extra["logit_scale"]) * F.normalize(img, dim=-1) @ txt.t()
    st_io.save(out_path, {"image_embeds": img, "text_embeds": txt, "logits_per_image": logits})


if __name__ == "__main__":
    main(*sys.argv[1:4])
