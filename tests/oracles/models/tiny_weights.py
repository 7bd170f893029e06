"""Seeded tiny weights shared by the parity fixture generators of BioMedCLIP, MedCLIP, PMC-CLIP and Swin
(make_*_fixture.py beside this file). The draws (order, scale, seed) are those the earlier fixture script
used, so the checkpoints keep their values: other tests (the diagnosis demo, LoRA, reduced precision)
rely on how these random towers separate images. Names are the published checkpoints' own.
"""
import json
import os

import torch

# A WordPiece vocabulary large enough for the prompts the tests use.
BERT_WORDS = ["a", "photo", "of", "chest", "xray", "with", "no", "finding", "pneumonia", "benign", "fundus",
              "glaucoma", "retina", "normal", "diseased", "tumor", "negative", "positive", "##s", "##ing"]
BERT_VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + BERT_WORDS
              + [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in BERT_WORDS])


def rnd(*shape, std=0.2):
    return torch.randn(*shape) * std


def ln(sd, prefix, d):
    sd[prefix + ".weight"] = 1.0 + rnd(d, std=0.1)
    sd[prefix + ".bias"] = rnd(d, std=0.1)


def lin(sd, prefix, i, o, bias=True):
    sd[prefix + ".weight"] = rnd(o, i, std=i ** -0.5)
    if bias:
        sd[prefix + ".bias"] = rnd(o, std=0.1)


def bn(sd, p, c):
    ln(sd, p, c)
    sd[p + ".running_mean"] = rnd(c, std=0.1)
    sd[p + ".running_var"] = 1.0 + rnd(c, std=0.1).abs()
    sd[p + ".num_batches_tracked"] = torch.tensor(7)


def bert_state(sd, b, vocab_size, dt, mlp_t, layers_t, max_pos=64, position_ids=False):
    """A random HF BertModel state dict under prefix b (with the position_ids buffer older exports keep)."""
    sd[b + "embeddings.word_embeddings.weight"] = rnd(vocab_size, dt, std=0.5)
    sd[b + "embeddings.position_embeddings.weight"] = rnd(max_pos, dt)
    sd[b + "embeddings.token_type_embeddings.weight"] = rnd(2, dt)
    if position_ids:
        sd[b + "embeddings.position_ids"] = torch.arange(max_pos).unsqueeze(0)
    ln(sd, b + "embeddings.LayerNorm", dt)
    for i in range(layers_t):
        p = f"{b}encoder.layer.{i}"
        for n in ("query", "key", "value"):
            lin(sd, f"{p}.attention.self.{n}", dt, dt)
        lin(sd, p + ".attention.output.dense", dt, dt)
        ln(sd, p + ".attention.output.LayerNorm", dt)
        lin(sd, p + ".intermediate.dense", dt, mlp_t)
        lin(sd, p + ".output.dense", mlp_t, dt)
        ln(sd, p + ".output.LayerNorm", dt)
    lin(sd, b + "pooler.dense", dt, dt)


def bert_config(dt, heads, layers, mlp, vocab_size, max_pos=64):
    return {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": dt, "num_attention_heads": heads,
            "num_hidden_layers": layers, "intermediate_size": mlp, "vocab_size": vocab_size,
            "max_position_embeddings": max_pos, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
            "type_vocab_size": 2, "pad_token_id": 0, "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1}


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_vocab(folder, vocab=BERT_VOCAB):
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")


def subtree(sd, prefix):
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def sample_images(folder):
    """Two small non-square images written as PNG (lossless, so every decoder reads the same pixels):
    a grayscale one like most radiographs (pad-to-square and resize up) and an RGB one larger than the
    model's input (resize down). Smooth gradients plus noise, so resampling errors show."""
    import numpy as np
    from PIL import Image
    rng = np.random.RandomState(7)
    paths = []
    for name, (w, h), mode in (("image_gray.png", (30, 20), "L"), ("image_rgb.png", (71, 97), "RGB")):
        yy, xx = np.mgrid[0:h, 0:w]
        base = 127 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
        if mode == "L":
            arr = base + rng.randn(h, w) * 20
        else:
            arr = np.stack([base, 255 - base, (xx * 255.0 / w)], -1) + rng.randn(h, w, 3) * 20
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), mode).save(os.path.join(folder, name))
        paths.append(os.path.join(folder, name))
    return paths
