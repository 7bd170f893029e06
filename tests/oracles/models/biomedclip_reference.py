#!/usr/bin/env python3
"""Reference BioMedCLIP (open_clip CustomTextCLIP) forward on python3-torch, ported line by line from
  timm timm/models/vision_transformer.py (VisionTransformer.forward_features/_pos_embed/forward_head
    with global_pool='token', Block, Attention with fused qkv),
  open_clip src/open_clip/timm_model.py (TimmModel: trunk -> head.drop -> head.proj) and
    src/open_clip/hf_model.py (HFTextEncoder: attention mask ids != pad, ClsLastHiddenStatePooler,
    proj 'mlp' = Linear -> GELU -> Linear),
  transformers src/transformers/models/bert/modeling_bert.py (BertEmbeddings, BertSelfAttention,
    BertSelfOutput, BertIntermediate, BertOutput: post-LN).
Sizes come from the weights, heads from head_width as the C++ loader does (open_clip would ask timm and
the hub). Independent of the C++ code.

usage: biomedclip_reference.py CHECKPOINT_DIR INPUTS.safetensors OUTPUT.safetensors
  inputs: pixel_values [N,3,H,W], input_ids [T,L] (0 = [PAD]); outputs: image_embeds, text_embeds,
  logits_per_image
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import st_io  # noqa: E402


def timm_attention(sd, p, x, heads):
    b, n, c = x.shape
    qkv = F.linear(x, sd[p + ".qkv.weight"], sd[p + ".qkv.bias"]).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    q = q * (c // heads) ** -0.5
    attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
    x = (attn @ v).transpose(1, 2).reshape(b, n, c)
    return F.linear(x, sd[p + ".proj.weight"], sd[p + ".proj.bias"])


def vision(sd, vcfg, pixel_values):
    t = "visual.trunk."
    w = sd[t + "patch_embed.proj.weight"]
    d = w.shape[0]
    heads = d // vcfg.get("head_width", 64)
    x = F.conv2d(pixel_values, w, sd[t + "patch_embed.proj.bias"], stride=w.shape[2]).flatten(2).transpose(1, 2)
    x = torch.cat([sd[t + "cls_token"].expand(x.shape[0], -1, -1), x], dim=1) + sd[t + "pos_embed"]
    i = 0
    while f"{t}blocks.{i}.norm1.weight" in sd:
        p = f"{t}blocks.{i}"
        x = x + timm_attention(sd, p + ".attn", F.layer_norm(x, (d,), sd[p + ".norm1.weight"], sd[p + ".norm1.bias"], 1e-6), heads)
        h = F.layer_norm(x, (d,), sd[p + ".norm2.weight"], sd[p + ".norm2.bias"], 1e-6)
        x = x + F.linear(F.gelu(F.linear(h, sd[p + ".mlp.fc1.weight"], sd[p + ".mlp.fc1.bias"])),
                         sd[p + ".mlp.fc2.weight"], sd[p + ".mlp.fc2.bias"])
        i += 1
    x = F.layer_norm(x, (d,), sd[t + "norm.weight"], sd[t + "norm.bias"], 1e-6)
    return F.linear(x[:, 0], sd["visual.head.proj.weight"])


def bert(sd, tcfg, input_ids, attention_mask):
    b = "text.transformer."
    d = sd[b + "embeddings.word_embeddings.weight"].shape[1]
    heads = d // tcfg.get("head_width", 64)
    hd = d // heads
    l = input_ids.shape[1]
    x = (sd[b + "embeddings.word_embeddings.weight"][input_ids]
         + sd[b + "embeddings.token_type_embeddings.weight"][torch.zeros_like(input_ids)]
         + sd[b + "embeddings.position_embeddings.weight"][:l][None])
    x = F.layer_norm(x, (d,), sd[b + "embeddings.LayerNorm.weight"], sd[b + "embeddings.LayerNorm.bias"], 1e-12)
    ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    i = 0
    while f"{b}encoder.layer.{i}.attention.self.query.weight" in sd:
        p = f"{b}encoder.layer.{i}"

        def proj(name, h):
            return F.linear(h, sd[f"{p}.attention.self.{name}.weight"], sd[f"{p}.attention.self.{name}.bias"]) \
                .view(h.shape[0], l, heads, hd).transpose(1, 2)

        q, k, v = proj("query", x), proj("key", x), proj("value", x)
        scores = torch.matmul(q, k.transpose(-1, -2)) / hd ** 0.5 + ext
        ctx = torch.matmul(scores.softmax(-1), v).permute(0, 2, 1, 3).reshape(x.shape[0], l, d)
        a = F.linear(ctx, sd[p + ".attention.output.dense.weight"], sd[p + ".attention.output.dense.bias"])
        x = F.layer_norm(a + x, (d,), sd[p + ".attention.output.LayerNorm.weight"], sd[p + ".attention.output.LayerNorm.bias"], 1e-12)
        h = F.gelu(F.linear(x, sd[p + ".intermediate.dense.weight"], sd[p + ".intermediate.dense.bias"]))
        h = F.linear(h, sd[p + ".output.dense.weight"], sd[p + ".output.dense.bias"])
        x = F.layer_norm(h + x, (d,), sd[p + ".output.LayerNorm.weight"], sd[p + ".output.LayerNorm.bias"], 1e-12)
        i += 1
    return x


def main(ckpt, inputs_path, out_path):
    cfg = json.load(open(os.path.join(ckpt, "open_clip_config.json")))["model_cfg"]
    sd = dict(torch.load(os.path.join(ckpt, "open_clip_pytorch_model.bin"), map_location="cpu"))
    sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    inp = st_io.load(inputs_path)
    with torch.no_grad():
        img = vision(sd, cfg["vision_cfg"], inp["pixel_values"].float())
        ids = inp["input_ids"].long()
        mask = (ids != 0).long()  # HFTextEncoder: (x != pad_token_id)
        pooled = bert(sd, cfg["text_cfg"], ids, mask)[:, 0]
        txt = F.linear(F.gelu(F.linear(pooled, sd["text.proj.0.weight"])), sd["text.proj.2.weight"])
        i_n = F.normalize(img, dim=-1)
        t_n = F.normalize(txt, dim=-1)
        logits = sd["logit_scale"].exp() * i_n @ t_n.t()
    st_io.save(out_path, {"image_embeds": img, "text_embeds": txt, "logits_per_image": logits})


if __name__ == "__main__":
    main(*sys.argv[1:4])
