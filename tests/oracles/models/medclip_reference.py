#!/usr/bin/env python3
"""Reference MedCLIP-ViT forward on python3-torch, ported line by line from
  RyanWangZf/MedCLIP medclip/modeling_medclip.py (MedCLIPVisionModelViT.forward: Swin pooler_output ->
    projection_head; MedCLIPTextModel.forward: stack(hidden_states[1], [2], [-1]).permute(1,0,2,3)
    .mean(2).mean(1) -> projection_head; MedCLIPModel.encode_image/encode_text: L2 normalise;
    compute_logits: exp(clamp(logit_scale, 0, 4.6052)) * text @ img.T, transposed),
  transformers src/transformers/models/swin/modeling_swin.py@0004a3c206a354820edc45954e80b6657f10a7c7
    (SwinEmbeddings, SwinPatchEmbeddings.maybe_pad, SwinSelfAttention with the relative position bias,
    SwinLayer.set_shift_and_window_size / get_attn_mask / maybe_pad / forward, SwinPatchMerging,
    SwinStage, SwinEncoder, SwinModel with AdaptiveAvgPool1d pooler),
  transformers src/transformers/models/bert/modeling_bert.py (BertEmbeddings, BertLayer: post-LN,
    output_hidden_states=True).
It reads pytorch_model.bin, swin_config.json and config.json from the checkpoint folder. Independent of
the C++ code.

usage: medclip_reference.py CHECKPOINT_DIR INPUTS.safetensors OUTPUT.safetensors
       medclip_reference.py --swin SWIN_CONFIG.json WEIGHTS.safetensors INPUTS.safetensors OUTPUT.safetensors
  inputs: pixel_values [N,3,H,W] (any H, W: padding is HF's), input_ids [T,L], attention_mask [T,L]
  outputs: image_embeds, text_embeds (normalised, as MedCLIPModel.encode_*), logits_per_image,
           text_hidden_states [layers+1, T, L, D] (BERT hidden states, for the shared encoder's test)
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import st_io  # noqa: E402


# ----------------------------------------------------------------------------- Swin (transformers)
def window_partition(input_feature, window_size):
    batch_size, height, width, num_channels = input_feature.shape
    input_feature = input_feature.view(
        batch_size, height // window_size, window_size, width // window_size, window_size, num_channels)
    return input_feature.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, num_channels)


def window_reverse(windows, window_size, height, width):
    num_channels = windows.shape[-1]
    windows = windows.view(-1, height // window_size, width // window_size, window_size, window_size, num_channels)
    return windows.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, height, width, num_channels)


def layer_norm(sd, p, x, eps):
    return F.layer_norm(x, (x.shape[-1],), sd[p + ".weight"], sd[p + ".bias"], eps)


def linear(sd, p, x):
    return F.linear(x, sd[p + ".weight"], sd.get(p + ".bias"))


def swin_embeddings(sd, cfg, pixel_values):
    patch = cfg["patch_size"]
    _, _, height, width = pixel_values.shape
    # SwinPatchEmbeddings.maybe_pad
    if width % patch != 0:
        pixel_values = F.pad(pixel_values, (0, patch - width % patch))
    if height % patch != 0:
        pixel_values = F.pad(pixel_values, (0, 0, 0, patch - height % patch))
    p = "embeddings.patch_embeddings.projection"
    embeddings = F.conv2d(pixel_values, sd[p + ".weight"], sd[p + ".bias"], stride=patch)
    _, _, height, width = embeddings.shape
    embeddings = embeddings.flatten(2).transpose(1, 2)
    embeddings = layer_norm(sd, "embeddings.norm", embeddings, 1e-5)  # nn.LayerNorm(config.embed_dim)
    return embeddings, (height, width)


def relative_position_index(window_size):
    coords_h = torch.arange(window_size)
    coords_w = torch.arange(window_size)
    coords = torch.stack(torch.meshgrid([coords_h, coords_w], indexing="ij"))
    coords_flatten = torch.flatten(coords, 1)
    relative_coords = coords_flatten[:, :, None] - coords_flatten[:, None, :]
    relative_coords = relative_coords.permute(1, 2, 0).contiguous()
    relative_coords[:, :, 0] += window_size - 1
    relative_coords[:, :, 1] += window_size - 1
    relative_coords[:, :, 0] *= 2 * window_size - 1
    return relative_coords.sum(-1)


def swin_self_attention(sd, p, hidden_states, attention_mask, num_heads, window_size):
    batch_size, dim, num_channels = hidden_states.shape
    head_size = num_channels // num_heads

    def transpose_for_scores(x):
        return x.view(x.size()[:-1] + (num_heads, head_size)).permute(0, 2, 1, 3)

    query_layer = transpose_for_scores(linear(sd, p + ".query", hidden_states))
    key_layer = transpose_for_scores(linear(sd, p + ".key", hidden_states))
    value_layer = transpose_for_scores(linear(sd, p + ".value", hidden_states))
    attention_scores = torch.matmul(query_layer, key_layer.transpose(-1, -2))
    attention_scores = attention_scores / math.sqrt(head_size)
    index = relative_position_index(window_size)
    if p + ".relative_position_index" in sd:  # the checkpoint's buffer must be HF's formula
        assert torch.equal(sd[p + ".relative_position_index"], index)
    relative_position_bias = sd[p + ".relative_position_bias_table"][index.view(-1)]
    relative_position_bias = relative_position_bias.view(window_size * window_size, window_size * window_size, -1)
    relative_position_bias = relative_position_bias.permute(2, 0, 1).contiguous()
    attention_scores = attention_scores + relative_position_bias.unsqueeze(0)
    if attention_mask is not None:
        mask_shape = attention_mask.shape[0]
        attention_scores = attention_scores.view(batch_size // mask_shape, mask_shape, num_heads, dim, dim)
        attention_scores = attention_scores + attention_mask.unsqueeze(1).unsqueeze(0)
        attention_scores = attention_scores.view(-1, num_heads, dim, dim)
    attention_probs = F.softmax(attention_scores, dim=-1)
    context_layer = torch.matmul(attention_probs, value_layer)
    context_layer = context_layer.permute(0, 2, 1, 3).contiguous()
    return context_layer.view(context_layer.size()[:-2] + (num_channels,))


def get_attn_mask(height, width, window_size, shift_size, dtype):
    if shift_size > 0:
        img_mask = torch.zeros((1, height, width, 1), dtype=dtype)
        height_slices = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
        width_slices = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
        count = 0
        for height_slice in height_slices:
            for width_slice in width_slices:
                img_mask[:, height_slice, width_slice, :] = count
                count += 1
        mask_windows = window_partition(img_mask, window_size)
        mask_windows = mask_windows.view(-1, window_size * window_size)
        attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
        attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(attn_mask == 0, float(0.0))
    else:
        attn_mask = None
    return attn_mask


def swin_layer(sd, p, cfg, hidden_states, input_dimensions, num_heads, shift_size):
    window_size = cfg["window_size"]
    # set_shift_and_window_size
    if min(input_dimensions) <= window_size:
        shift_size = 0
        window_size = min(input_dimensions)
    height, width = input_dimensions
    batch_size, _, channels = hidden_states.size()
    shortcut = hidden_states
    eps = cfg.get("layer_norm_eps", 1e-5)
    hidden_states = layer_norm(sd, p + ".layernorm_before", hidden_states, eps)
    hidden_states = hidden_states.view(batch_size, height, width, channels)
    # maybe_pad
    pad_right = (window_size - width % window_size) % window_size
    pad_bottom = (window_size - height % window_size) % window_size
    pad_values = (0, 0, 0, pad_right, 0, pad_bottom)
    hidden_states = F.pad(hidden_states, pad_values)
    _, height_pad, width_pad, _ = hidden_states.shape
    if shift_size > 0:
        shifted_hidden_states = torch.roll(hidden_states, shifts=(-shift_size, -shift_size), dims=(1, 2))
    else:
        shifted_hidden_states = hidden_states
    hidden_states_windows = window_partition(shifted_hidden_states, window_size)
    hidden_states_windows = hidden_states_windows.view(-1, window_size * window_size, channels)
    attn_mask = get_attn_mask(height_pad, width_pad, window_size, shift_size, hidden_states.dtype)
    attention_output = swin_self_attention(sd, p + ".attention.self", hidden_states_windows, attn_mask, num_heads,
                                           window_size)
    attention_output = linear(sd, p + ".attention.output.dense", attention_output)
    attention_windows = attention_output.view(-1, window_size, window_size, channels)
    shifted_windows = window_reverse(attention_windows, window_size, height_pad, width_pad)
    if shift_size > 0:
        attention_windows = torch.roll(shifted_windows, shifts=(shift_size, shift_size), dims=(1, 2))
    else:
        attention_windows = shifted_windows
    was_padded = pad_values[3] > 0 or pad_values[5] > 0
    if was_padded:
        attention_windows = attention_windows[:, :height, :width, :].contiguous()
    attention_windows = attention_windows.view(batch_size, height * width, channels)
    hidden_states = shortcut + attention_windows
    layer_output = layer_norm(sd, p + ".layernorm_after", hidden_states, eps)
    assert cfg.get("hidden_act", "gelu") == "gelu"
    layer_output = F.gelu(linear(sd, p + ".intermediate.dense", layer_output))
    return hidden_states + linear(sd, p + ".output.dense", layer_output)


def swin_patch_merging(sd, p, input_feature, input_dimensions):
    height, width = input_dimensions
    batch_size, dim, num_channels = input_feature.shape
    input_feature = input_feature.view(batch_size, height, width, num_channels)
    if (height % 2 == 1) or (width % 2 == 1):
        input_feature = F.pad(input_feature, (0, 0, 0, width % 2, 0, height % 2))
    input_feature_0 = input_feature[:, 0::2, 0::2, :]
    input_feature_1 = input_feature[:, 1::2, 0::2, :]
    input_feature_2 = input_feature[:, 0::2, 1::2, :]
    input_feature_3 = input_feature[:, 1::2, 1::2, :]
    input_feature = torch.cat([input_feature_0, input_feature_1, input_feature_2, input_feature_3], -1)
    input_feature = input_feature.view(batch_size, -1, 4 * num_channels)
    input_feature = layer_norm(sd, p + ".norm", input_feature, 1e-5)  # norm_layer=nn.LayerNorm
    return F.linear(input_feature, sd[p + ".reduction.weight"])


def swin_model(sd, cfg, pixel_values):
    assert not cfg.get("use_absolute_embeddings", False)
    hidden_states, input_dimensions = swin_embeddings(sd, cfg, pixel_values)
    num_layers = len(cfg["depths"])
    for i in range(num_layers):
        height, width = input_dimensions
        for j in range(cfg["depths"][i]):
            shift = 0 if (j % 2 == 0) else cfg["window_size"] // 2
            hidden_states = swin_layer(sd, f"encoder.layers.{i}.blocks.{j}", cfg, hidden_states, input_dimensions,
                                       cfg["num_heads"][i], shift)
        if i < num_layers - 1:  # downsample=SwinPatchMerging if (i_layer < self.num_layers - 1)
            hidden_states = swin_patch_merging(sd, f"encoder.layers.{i}.downsample", hidden_states, input_dimensions)
            input_dimensions = ((height + 1) // 2, (width + 1) // 2)
    sequence_output = layer_norm(sd, "layernorm", hidden_states, cfg.get("layer_norm_eps", 1e-5))
    pooled_output = F.adaptive_avg_pool1d(sequence_output.transpose(1, 2), 1)
    return torch.flatten(pooled_output, 1), sequence_output


# ----------------------------------------------------------------------------- BERT (transformers)
def bert_hidden_states(sd, cfg, input_ids, attention_mask):
    d = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    hd = d // heads
    eps = cfg.get("layer_norm_eps", 1e-12)
    l = input_ids.shape[1]
    x = (sd["embeddings.word_embeddings.weight"][input_ids]
         + sd["embeddings.token_type_embeddings.weight"][torch.zeros_like(input_ids)]
         + sd["embeddings.position_embeddings.weight"][:l][None])
    x = F.layer_norm(x, (d,), sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"], eps)
    ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    all_hidden_states = [x]
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}"

        def proj(name, h):
            return linear(sd, f"{p}.attention.self.{name}", h).view(h.shape[0], l, heads, hd).transpose(1, 2)

        q, k, v = proj("query", x), proj("key", x), proj("value", x)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + ext
        ctx = torch.matmul(scores.softmax(-1), v).permute(0, 2, 1, 3).reshape(x.shape[0], l, d)
        a = linear(sd, p + ".attention.output.dense", ctx)
        x = F.layer_norm(a + x, (d,), sd[p + ".attention.output.LayerNorm.weight"],
                         sd[p + ".attention.output.LayerNorm.bias"], eps)
        h = F.gelu(linear(sd, p + ".intermediate.dense", x))
        h = linear(sd, p + ".output.dense", h)
        x = F.layer_norm(h + x, (d,), sd[p + ".output.LayerNorm.weight"], sd[p + ".output.LayerNorm.bias"], eps)
        all_hidden_states.append(x)
    return all_hidden_states


# ----------------------------------------------------------------------------- MedCLIP
def subtree(sd, prefix):
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def main(ckpt, inputs_path, out_path):
    swin_cfg = json.load(open(os.path.join(ckpt, "swin_config.json")))
    bert_cfg = json.load(open(os.path.join(ckpt, "config.json")))
    sd = dict(torch.load(os.path.join(ckpt, "pytorch_model.bin"), map_location="cpu"))
    inp = st_io.load(inputs_path)
    with torch.no_grad():
        # MedCLIPVisionModelViT.forward
        pixel_values = inp["pixel_values"].float()
        if pixel_values.shape[1] == 1:
            pixel_values = pixel_values.repeat((1, 3, 1, 1))
        img_embeds, _ = swin_model(subtree(sd, "vision_model.model."), swin_cfg, pixel_values)
        img_embeds = F.linear(img_embeds, sd["vision_model.projection_head.weight"])
        # MedCLIPTextModel.forward
        hidden_states = bert_hidden_states(subtree(sd, "text_model.model."), bert_cfg, inp["input_ids"].long(),
                                           inp["attention_mask"].long())
        last_hidden_states = torch.stack([hidden_states[1], hidden_states[2], hidden_states[-1]])
        embed = last_hidden_states.permute(1, 0, 2, 3).mean(2).mean(1)
        text_embeds = F.linear(embed, sd["text_model.projection_head.weight"])
        # MedCLIPModel.encode_image / encode_text / compute_logits
        img_embeds = img_embeds / img_embeds.norm(dim=-1, keepdim=True)
        text_embeds = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
        logit_scale = torch.clamp(sd["logit_scale"], 0, 4.6052).exp()
        logits_per_text = torch.matmul(text_embeds, img_embeds.t()) * logit_scale
        logits_per_image = logits_per_text.t()
    st_io.save(out_path, {"image_embeds": img_embeds, "text_embeds": text_embeds,
                          "logits_per_image": logits_per_image.contiguous(),
                          "text_hidden_states": torch.stack(hidden_states)})


def swin_only(cfg_path, weights_path, inputs_path, out_path):
    """SwinModel alone, on SwinModel-named weights in a safetensors file (the C++ Swin block's test)."""
    cfg = json.load(open(cfg_path))
    sd = st_io.load(weights_path)
    with torch.no_grad():
        pooled, sequence = swin_model(sd, cfg, st_io.load(inputs_path)["pixel_values"].float())
    st_io.save(out_path, {"pooler_output": pooled, "last_hidden_state": sequence.contiguous()})


if __name__ == "__main__":
    if sys.argv[1] == "--swin":
        swin_only(*sys.argv[2:6])
    else:
        main(*sys.argv[1:4])
