#!/usr/bin/env python3
"""Reference SigLIP forward on python3-torch, ported line by line from transformers'
src/transformers/models/siglip/modeling_siglip.py @ 000f1ffdbf1ce6190cc8863af9a2fff817590937
(SiglipVisionEmbeddings, SiglipTextEmbeddings, SiglipAttention, SiglipMLP, SiglipEncoderLayer,
SiglipTextTransformer, SiglipVisionTransformer, SiglipMultiheadAttentionPoolingHead - which uses
torch.nn.MultiheadAttention itself - and SiglipModel.get_*_features / forward). Independent of the C++.

usage: siglip_reference.py CHECKPOINT_DIR INPUTS.safetensors OUTPUT.safetensors
  inputs:  pixel_values [N,3,H,W], input_ids [T,L] (no attention mask, as the reference calls it)
  outputs: image_embeds, text_embeds, logits_per_image
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import st_io  # noqa: E402
from clip_reference import ACT, encoder  # noqa: E402  (SiglipEncoderLayer == CLIPEncoderLayer in structure)


def vision(sd, cfg, pixel_values):
    d = cfg["hidden_size"]
    eps = cfg.get("layer_norm_eps", 1e-6)
    x = F.conv2d(pixel_values, sd["vision_model.embeddings.patch_embedding.weight"],
                 sd["vision_model.embeddings.patch_embedding.bias"], stride=cfg["patch_size"])
    x = x.flatten(2).transpose(1, 2)
    x = x + sd["vision_model.embeddings.position_embedding.weight"][None]
    x = encoder(sd, "vision_model.encoder", x, cfg, None)
    x = F.layer_norm(x, (d,), sd["vision_model.post_layernorm.weight"], sd["vision_model.post_layernorm.bias"], eps)
    # SiglipMultiheadAttentionPoolingHead
    mha = torch.nn.MultiheadAttention(d, cfg["num_attention_heads"], batch_first=True)
    mha.load_state_dict({k[len("vision_model.head.attention."):]: v for k, v in sd.items()
                         if k.startswith("vision_model.head.attention.")})
    mha.eval()
    probe = sd["vision_model.head.probe"].repeat(x.shape[0], 1, 1)
    h = mha(probe, x, x)[0]
    r = h
    h = F.layer_norm(h, (d,), sd["vision_model.head.layernorm.weight"], sd["vision_model.head.layernorm.bias"], eps)
    act = ACT[cfg.get("hidden_act", "gelu_pytorch_tanh")]
    h = r + F.linear(act(F.linear(h, sd["vision_model.head.mlp.fc1.weight"], sd["vision_model.head.mlp.fc1.bias"])),
                     sd["vision_model.head.mlp.fc2.weight"], sd["vision_model.head.mlp.fc2.bias"])
    return h[:, 0]


def text(sd, cfg, input_ids):
    d = cfg["hidden_size"]
    eps = cfg.get("layer_norm_eps", 1e-6)
    l = input_ids.shape[1]
    x = sd["text_model.embeddings.token_embedding.weight"][input_ids]
    x = x + sd["text_model.embeddings.position_embedding.weight"][:l][None]
    x = encoder(sd, "text_model.encoder", x, cfg, None)
    x = F.layer_norm(x, (d,), sd["text_model.final_layer_norm.weight"], sd["text_model.final_layer_norm.bias"], eps)
    pooled = x[:, -1, :]
    return F.linear(pooled, sd["text_model.head.weight"], sd["text_model.head.bias"])


def main(ckpt, inputs_path, out_path):
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    sd = {k: v.float() for k, v in st_io.load(os.path.join(ckpt, "model.safetensors")).items()}
    inp = st_io.load(inputs_path)
    with torch.no_grad():
        img = vision(sd, cfg["vision_config"], inp["pixel_values"].float())
        txt = text(sd, cfg["text_config"], inp["input_ids"].long())
        i_n = img / img.norm(p=2, dim=-1, keepdim=True)
        t_n = txt / txt.norm(p=2, dim=-1, keepdim=True)
        logits_per_text = torch.matmul(t_n, i_n.t()) * sd["logit_scale"].exp() + sd["logit_bias"]
    st_io.save(out_path, {"image_embeds": img, "text_embeds": txt, "logits_per_image": logits_per_text.t()})


if __name__ == "__main__":
    main(*sys.argv[1:4])
