#!/usr/bin/env python3
"""Reference CLIP forward on python3-torch, ported line by line from transformers'
src/transformers/models/clip/modeling_clip.py @ 000f1ffdbf1ce6190cc8863af9a2fff817590937
(CLIPVisionEmbeddings, CLIPTextEmbeddings, eager_attention_forward, CLIPAttention, CLIPMLP,
CLIPEncoderLayer, CLIPTextTransformer, CLIPVisionTransformer, CLIPModel.get_*_features / forward),
because transformers itself is not installable on the CPU machines. It is an independent oracle for
the C++ CLIP: it reads config.json and the weights itself and shares no code with it.

usage: clip_reference.py CHECKPOINT_DIR INPUTS.safetensors OUTPUT.safetensors
  inputs:  pixel_values [N,3,H,W] f32, input_ids [T,L] i64, attention_mask [T,L] i64
  outputs: image_embeds [N,P], text_embeds [T,P] (unnormalised projections), logits_per_image [N,T]
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import st_io  # noqa: E402


def load_weights(ckpt):
    st = os.path.join(ckpt, "model.safetensors")
    if os.path.exists(st):
        return st_io.load(st)
    return dict(torch.load(os.path.join(ckpt, "pytorch_model.bin"), map_location="cpu"))


ACT = {"quick_gelu": lambda x: x * torch.sigmoid(1.702 * x), "gelu": F.gelu,
       "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh")}


def attention(sd, p, x, heads, mask):
    # CLIPAttention.forward with eager_attention_forward
    b, l, d = x.shape
    hd = d // heads
    q = F.linear(x, sd[p + ".q_proj.weight"], sd[p + ".q_proj.bias"]).view(b, l, -1, hd).transpose(1, 2)
    k = F.linear(x, sd[p + ".k_proj.weight"], sd[p + ".k_proj.bias"]).view(b, l, -1, hd).transpose(1, 2)
    v = F.linear(x, sd[p + ".v_proj.weight"], sd[p + ".v_proj.bias"]).view(b, l, -1, hd).transpose(1, 2)
    w = torch.matmul(q, k.transpose(-1, -2)) * hd ** -0.5
    if mask is not None:
        w = w + mask
    w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
    o = torch.matmul(w, v).transpose(1, 2).contiguous().reshape(b, l, -1)
    return F.linear(o, sd[p + ".out_proj.weight"], sd[p + ".out_proj.bias"])


def encoder(sd, prefix, x, cfg, mask):
    eps = cfg.get("layer_norm_eps", 1e-5)
    act = ACT[cfg.get("hidden_act", "quick_gelu")]
    d = x.shape[-1]
    for i in range(cfg["num_hidden_layers"]):
        p = f"{prefix}.layers.{i}"
        r = x
        x = F.layer_norm(x, (d,), sd[p + ".layer_norm1.weight"], sd[p + ".layer_norm1.bias"], eps)
        x = r + attention(sd, p + ".self_attn", x, cfg["num_attention_heads"], mask)
        r = x
        x = F.layer_norm(x, (d,), sd[p + ".layer_norm2.weight"], sd[p + ".layer_norm2.bias"], eps)
        x = F.linear(act(F.linear(x, sd[p + ".mlp.fc1.weight"], sd[p + ".mlp.fc1.bias"])),
                     sd[p + ".mlp.fc2.weight"], sd[p + ".mlp.fc2.bias"])
        x = r + x
    return x


def vision(sd, cfg, pixel_values):
    d = cfg["hidden_size"]
    eps = cfg.get("layer_norm_eps", 1e-5)
    p = cfg["patch_size"]
    x = F.conv2d(pixel_values, sd["vision_model.embeddings.patch_embedding.weight"], stride=p)
    x = x.flatten(2).transpose(1, 2)
    cls = sd["vision_model.embeddings.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + sd["vision_model.embeddings.position_embedding.weight"][None]
    x = F.layer_norm(x, (d,), sd["vision_model.pre_layrnorm.weight"], sd["vision_model.pre_layrnorm.bias"], eps)
    x = encoder(sd, "vision_model.encoder", x, cfg, None)
    pooled = F.layer_norm(x[:, 0, :], (d,), sd["vision_model.post_layernorm.weight"],
                          sd["vision_model.post_layernorm.bias"], eps)
    return F.linear(pooled, sd["visual_projection.weight"])


def text(sd, cfg, input_ids, attention_mask):
    d = cfg["hidden_size"]
    eps = cfg.get("layer_norm_eps", 1e-5)
    l = input_ids.shape[1]
    x = sd["text_model.embeddings.token_embedding.weight"][input_ids]
    x = x + sd["text_model.embeddings.position_embedding.weight"][:l][None]
    # create_causal_mask: causal and padding masks combined, min value where masked
    low = torch.finfo(x.dtype).min
    causal = torch.triu(torch.full((l, l), low), diagonal=1)[None, None]
    pad = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * low
    mask = torch.maximum(causal + pad, torch.tensor(low))
    x = encoder(sd, "text_model.encoder", x, cfg, mask)
    x = F.layer_norm(x, (d,), sd["text_model.final_layer_norm.weight"], sd["text_model.final_layer_norm.bias"], eps)
    rows = torch.arange(x.shape[0])
    if torch.all(input_ids.max(dim=-1).values == 49407).item():
        pooled = x[rows, input_ids.to(torch.int).argmax(dim=-1)]
    else:
        pooled = x[rows, (input_ids.to(torch.int) == cfg.get("eos_token_id", 49407)).int().argmax(dim=-1)]
    return F.linear(pooled, sd["text_projection.weight"])


def main(ckpt, inputs_path, out_path):
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    sd = {k: v.float() if v.is_floating_point() else v for k, v in load_weights(ckpt).items()}
    inp = st_io.load(inputs_path)
    with torch.no_grad():
        img = vision(sd, cfg["vision_config"], inp["pixel_values"].float())
        txt = text(sd, cfg["text_config"], inp["input_ids"].long(), inp["attention_mask"].long())
        # CLIPModel.forward: normalised embeddings, logits_per_text = t @ i.T * exp(logit_scale)
        i_n = img / img.norm(p=2, dim=-1, keepdim=True)
        t_n = txt / txt.norm(p=2, dim=-1, keepdim=True)
        logits_per_image = (torch.matmul(t_n, i_n.t()) * sd["logit_scale"].exp()).t()
    st_io.save(out_path, {"image_embeds": img, "text_embeds": txt, "logits_per_image": logits_per_image})


if __name__ == "__main__":
    main(*sys.argv[1:4])
