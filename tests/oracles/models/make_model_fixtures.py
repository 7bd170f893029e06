#!/usr/bin/env python3
"""Writes tiny random-weight checkpoints in the published formats the contrastive models load.

  tests/fixtures/models/tiny-clip/        HF CLIP layout: config.json, model.safetensors, vocab.json,
                                          merges.txt, tokenizer_config.json, special_tokens_map.json,
                                          preprocessor_config.json
  tests/fixtures/models/tiny-clip-bin/    the same weights as pytorch_model.bin (torch.save zip format)
  tests/fixtures/models/tiny-siglip/      HF SigLIP layout (config.json, model.safetensors, tokenizer)
  tests/fixtures/models/tiny-biomedclip/  open_clip layout: open_clip_config.json,
                                          open_clip_pytorch_model.bin, vocab.txt (WordPiece)
  tests/fixtures/models/tiny-clinicalbert/ the files of emilyalsentzer/Bio_ClinicalBERT (the BERTScore
                                          model): config.json, pytorch_model.bin (BertForPreTraining,
                                          "bert." prefixed), vocab.txt, no tokenizer_config.json
  tests/fixtures/models/tiny-medclip/     MedCLIP-ViT release: pytorch_model.bin (Swin + BERT +
                                          projection heads), swin_config.json, BERT config.json, vocab.txt

Names and shapes are those of the real checkpoints (transformers CLIPModel / SiglipModel state dicts,
open_clip CustomTextCLIP with a timm ViT trunk and an HF BERT text tower); only the sizes are tiny.
Weights are seeded, so reruns give identical files. Run with Debian's /usr/bin/python3 (python3-torch).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import st_io  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "models")
# Parity for these fixtures is checked at test time against python3-torch ports of the published
# modeling code (scripts/reference/); provisional until a device session regenerates reference
# outputs with transformers / open_clip themselves.
CLIP_ORACLE = {"provisional": True, "oracle": "python3-torch line-by-line port of transformers "
               "src/transformers/models/clip/modeling_clip.py@000f1ffdbf1ce6190cc8863af9a2fff817590937 "
               "(scripts/reference/clip_reference.py)"}
SIGLIP_ORACLE = {"provisional": True, "oracle": "python3-torch line-by-line port of transformers "
                 "src/transformers/models/siglip/modeling_siglip.py@000f1ffdbf1ce6190cc8863af9a2fff817590937 "
                 "(scripts/reference/siglip_reference.py)"}
BIOMEDCLIP_ORACLE = {"provisional": True, "oracle": "python3-torch line-by-line port of timm "
                     "timm/models/vision_transformer.py (VisionTransformer, Block, Attention), open_clip "
                     "src/open_clip/timm_model.py + hf_model.py, and transformers "
                     "src/transformers/models/bert/modeling_bert.py (scripts/reference/biomedclip_reference.py)"}
PMCCLIP_ORACLE = {"provisional": True, "oracle": "python3-torch line-by-line port of ubc-tea/MedVLMBench "
                  "model/pmcclip.py@b589983 (ModifiedResNet, Bottleneck, AttentionPool2d via "
                  "F.multi_head_attention_forward) and transformers modeling_bert.py "
                  "(scripts/reference/pmcclip_reference.py)"}
MEDCLIP_ORACLE = {"provisional": True, "oracle": "python3-torch line-by-line port of RyanWangZf/MedCLIP "
                  "medclip/modeling_medclip.py (MedCLIPVisionModelViT, MedCLIPTextModel, MedCLIPModel), transformers "
                  "src/transformers/models/swin/modeling_swin.py@0004a3c206a354820edc45954e80b6657f10a7c7 and "
                  "modeling_bert.py (scripts/reference/medclip_reference.py)"}
META = {"generator": "scripts/make_model_fixtures.py", "weights": "seeded random (torch.manual_seed)"}


def rnd(*shape, std=0.2):
    return torch.randn(*shape) * std


def ln(sd, prefix, d):
    sd[prefix + ".weight"] = 1.0 + rnd(d, std=0.1)
    sd[prefix + ".bias"] = rnd(d, std=0.1)


def lin(sd, prefix, i, o, bias=True):
    sd[prefix + ".weight"] = rnd(o, i, std=i ** -0.5)
    if bias:
        sd[prefix + ".bias"] = rnd(o, std=0.1)


def encoder_layers(sd, prefix, n, d, mlp):
    for i in range(n):
        p = f"{prefix}.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            lin(sd, f"{p}.self_attn.{proj}", d, d)
        ln(sd, f"{p}.layer_norm1", d)
        lin(sd, f"{p}.mlp.fc1", d, mlp)
        lin(sd, f"{p}.mlp.fc2", mlp, d)
        ln(sd, f"{p}.layer_norm2", d)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


# ---------------------------------------------------------------- CLIP BPE tokenizer files
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


CLIP_MERGES = ["p h", "o t", "ph ot", "phot o</w>", "o f</w>", "c h", "e s", "x r", "a y</w>"]


def write_clip_tokenizer(out):
    chars = bytes_to_unicode()
    vocab = chars + [c + "</w>" for c in chars]
    for m in CLIP_MERGES:
        vocab.append(m.replace(" ", ""))
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    write_json(os.path.join(out, "vocab.json"), {t: i for i, t in enumerate(vocab)})
    with open(os.path.join(out, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "\n".join(CLIP_MERGES) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>"}
    write_json(os.path.join(out, "special_tokens_map.json"), special)
    write_json(os.path.join(out, "tokenizer_config.json"),
               dict(special, model_max_length=77, tokenizer_class="CLIPTokenizer", do_lower_case=True,
                    errors="replace", add_prefix_space=False))
    return len(vocab), vocab.index("<|endoftext|>"), vocab.index("<|startoftext|>")


def make_clip(out, bin_out, base=False):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1)
    vocab_size, eos, bos = write_clip_tokenizer(out)
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
    sd = {}
    sd["text_model.embeddings.token_embedding.weight"] = rnd(vocab_size, t["hidden_size"], std=0.5)
    sd["text_model.embeddings.position_embedding.weight"] = rnd(t["max_position_embeddings"], t["hidden_size"])
    encoder_layers(sd, "text_model.encoder", t["num_hidden_layers"], t["hidden_size"], t["intermediate_size"])
    ln(sd, "text_model.final_layer_norm", t["hidden_size"])
    d = v["hidden_size"]
    n_pos = (v["image_size"] // v["patch_size"]) ** 2 + 1
    sd["vision_model.embeddings.class_embedding"] = rnd(d, std=0.5)
    sd["vision_model.embeddings.patch_embedding.weight"] = rnd(d, 3, v["patch_size"], v["patch_size"], std=0.05)
    sd["vision_model.embeddings.position_embedding.weight"] = rnd(n_pos, d)
    ln(sd, "vision_model.pre_layrnorm", d)
    encoder_layers(sd, "vision_model.encoder", v["num_hidden_layers"], d, v["intermediate_size"])
    ln(sd, "vision_model.post_layernorm", d)
    sd["visual_projection.weight"] = rnd(proj, d, std=d ** -0.5)
    sd["text_projection.weight"] = rnd(proj, t["hidden_size"], std=t["hidden_size"] ** -0.5)
    sd["logit_scale"] = torch.tensor(2.6592)
    cfg = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": proj, "logit_scale_init_value": 2.6592,
           "text_config": t, "vision_config": v}
    write_json(os.path.join(out, "config.json"), cfg)
    side = v["image_size"]
    write_json(os.path.join(out, "preprocessor_config.json"),
               {"crop_size": {"height": side, "width": side}, "do_center_crop": True, "do_normalize": True,
                "do_resize": True, "image_processor_type": "CLIPImageProcessor",
                "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
                "resample": 3, "size": {"shortest_edge": side}})
    st_io.save(os.path.join(out, "model.safetensors"), sd, {"format": "pt"})
    write_json(os.path.join(out, "fixture.json"), dict(META, format="hf-clip safetensors", **CLIP_ORACLE))
    if bin_out is None:
        return
    # The same model as a torch.save zip checkpoint (PubMedCLIP / PLIP ship pytorch_model.bin).
    os.makedirs(bin_out, exist_ok=True)
    for name in os.listdir(out):
        if name not in ("model.safetensors", "fixture.json"):
            with open(os.path.join(out, name), "rb") as src, open(os.path.join(bin_out, name), "wb") as dst:
                dst.write(src.read())
    # Old transformers checkpoints persist the position_ids buffers; the loader must drop them.
    bin_sd = dict(sd)
    bin_sd["text_model.embeddings.position_ids"] = torch.arange(77).unsqueeze(0)
    torch.save(bin_sd, os.path.join(bin_out, "pytorch_model.bin"))
    write_json(os.path.join(bin_out, "fixture.json"),
               dict(META, format="hf-clip torch.save zip (pytorch_model.bin)", **CLIP_ORACLE))


SIGLIP_CORPUS = ["a photo of chest xray with no finding", "a photo of chest xray with pneumonia",
                 "benign fundus", "glaucoma fundus", "diseased xray", "normal xray", "benign retina",
                 "glaucomatous retina", "negative tumor", "positive tumor", "melanoma", "actinic keratoses"]


def write_siglip_tokenizer(out):
    import io
    import sentencepiece as spm
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(SIGLIP_CORPUS * 20), model_writer=buf, vocab_size=48,
                                   model_type="unigram", normalization_rule_name="identity", pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, minloglevel=2)
    with open(os.path.join(out, "spiece.model"), "wb") as f:
        f.write(buf.getvalue())
    special = {"eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>"}
    write_json(os.path.join(out, "special_tokens_map.json"), special)
    write_json(os.path.join(out, "tokenizer_config.json"),
               dict(special, model_max_length=64, tokenizer_class="SiglipTokenizer", do_lower_case=True))
    return 48


def make_siglip(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2)
    vocab_size = write_siglip_tokenizer(out)
    t = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
             max_position_embeddings=64, vocab_size=vocab_size, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    v = dict(hidden_size=16, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4, image_size=32,
             patch_size=8, num_channels=3, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    sd = {}
    d = t["hidden_size"]
    sd["text_model.embeddings.token_embedding.weight"] = rnd(vocab_size, d, std=0.5)
    sd["text_model.embeddings.position_embedding.weight"] = rnd(t["max_position_embeddings"], d)
    encoder_layers(sd, "text_model.encoder", t["num_hidden_layers"], d, t["intermediate_size"])
    ln(sd, "text_model.final_layer_norm", d)
    lin(sd, "text_model.head", d, d)
    d = v["hidden_size"]
    n_pos = (v["image_size"] // v["patch_size"]) ** 2
    sd["vision_model.embeddings.patch_embedding.weight"] = rnd(d, 3, v["patch_size"], v["patch_size"], std=0.05)
    sd["vision_model.embeddings.patch_embedding.bias"] = rnd(d, std=0.1)
    sd["vision_model.embeddings.position_embedding.weight"] = rnd(n_pos, d)
    encoder_layers(sd, "vision_model.encoder", v["num_hidden_layers"], d, v["intermediate_size"])
    ln(sd, "vision_model.post_layernorm", d)
    sd["vision_model.head.probe"] = rnd(1, 1, d, std=0.5)
    sd["vision_model.head.attention.in_proj_weight"] = rnd(3 * d, d, std=d ** -0.5)
    sd["vision_model.head.attention.in_proj_bias"] = rnd(3 * d, std=0.1)
    lin(sd, "vision_model.head.attention.out_proj", d, d)
    ln(sd, "vision_model.head.layernorm", d)
    lin(sd, "vision_model.head.mlp.fc1", d, v["intermediate_size"])
    lin(sd, "vision_model.head.mlp.fc2", v["intermediate_size"], d)
    sd["logit_scale"] = torch.tensor([2.3026])
    sd["logit_bias"] = torch.tensor([-10.0])
    write_json(os.path.join(out, "config.json"), {"architectures": ["SiglipModel"], "model_type": "siglip",
                                                  "text_config": t, "vision_config": v})
    write_json(os.path.join(out, "preprocessor_config.json"),
               {"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5], "image_processor_type": "SiglipImageProcessor", "resample": 3,
                "rescale_factor": 0.00392156862745098, "size": {"height": 32, "width": 32}})
    st_io.save(os.path.join(out, "model.safetensors"), sd, {"format": "pt"})
    write_json(os.path.join(out, "fixture.json"), dict(META, format="hf-siglip safetensors", **SIGLIP_ORACLE))


BERT_WORDS = ["a", "photo", "of", "chest", "xray", "with", "no", "finding", "pneumonia", "benign", "fundus",
              "glaucoma", "retina", "normal", "diseased", "tumor", "negative", "positive", "##s", "##ing"]


def make_biomedclip(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(3)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + BERT_WORDS + [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in BERT_WORDS]
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    write_json(os.path.join(out, "tokenizer_config.json"),
               {"do_lower_case": True, "model_max_length": 256, "tokenizer_class": "BertTokenizer",
                "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                "mask_token": "[MASK]"})
    write_json(os.path.join(out, "special_tokens_map.json"),
               {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                "mask_token": "[MASK]"})
    dv, mlp_v, depth, patch, img = 16, 32, 2, 8, 32
    dt, mlp_t, layers_t, embed = 16, 24, 2, 12
    sd = {}
    sd["visual.trunk.cls_token"] = rnd(1, 1, dv, std=0.5)
    sd["visual.trunk.pos_embed"] = rnd(1, (img // patch) ** 2 + 1, dv)
    sd["visual.trunk.patch_embed.proj.weight"] = rnd(dv, 3, patch, patch, std=0.05)
    sd["visual.trunk.patch_embed.proj.bias"] = rnd(dv, std=0.1)
    for i in range(depth):
        p = f"visual.trunk.blocks.{i}"
        ln(sd, p + ".norm1", dv)
        lin(sd, p + ".attn.qkv", dv, 3 * dv)
        lin(sd, p + ".attn.proj", dv, dv)
        ln(sd, p + ".norm2", dv)
        lin(sd, p + ".mlp.fc1", dv, mlp_v)
        lin(sd, p + ".mlp.fc2", mlp_v, dv)
    ln(sd, "visual.trunk.norm", dv)
    sd["visual.head.proj.weight"] = rnd(embed, dv, std=dv ** -0.5)
    bert_state(sd, "text.transformer.", len(vocab), dt, mlp_t, layers_t, position_ids=True)
    hidden = (dt + embed) // 2
    sd["text.proj.0.weight"] = rnd(hidden, dt, std=dt ** -0.5)
    sd["text.proj.2.weight"] = rnd(embed, hidden, std=hidden ** -0.5)
    sd["logit_scale"] = torch.tensor(4.6052)
    write_json(os.path.join(out, "open_clip_config.json"), {
        "model_cfg": {"embed_dim": embed,
                      "vision_cfg": {"timm_model_name": "vit_base_patch16_224", "timm_model_pretrained": False,
                                     "timm_pool": "", "timm_proj": "linear", "image_size": img, "head_width": 4},
                      "text_cfg": {"hf_model_name": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
                                   "hf_tokenizer_name": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
                                   "hf_proj_type": "mlp", "hf_pooler_type": "cls_last_hidden_state_pooler",
                                   "context_length": 256, "head_width": 4}},
        "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}})
    torch.save(sd, os.path.join(out, "open_clip_pytorch_model.bin"))
    write_json(os.path.join(out, "fixture.json"),
               dict(META, format="open_clip (open_clip_pytorch_model.bin)", **BIOMEDCLIP_ORACLE,
                    note="head_width in vision_cfg/text_cfg sets the tiny head count (real: 64)"))


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


def bn(sd, p, c):
    ln(sd, p, c)
    sd[p + ".running_mean"] = rnd(c, std=0.1)
    sd[p + ".running_var"] = 1.0 + rnd(c, std=0.1).abs()
    sd[p + ".num_batches_tracked"] = torch.tensor(7)


def make_pmcclip(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(4)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + BERT_WORDS + [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in BERT_WORDS]
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    write_json(os.path.join(out, "tokenizer_config.json"),
               {"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"})
    width, out_dim, img = 2, 16, 64
    img_sd = {}
    for name, cin, cout in (("conv1", 3, width // 2), ("conv2", width // 2, width // 2), ("conv3", width // 2, width)):
        img_sd[name + ".weight"] = rnd(cout, cin, 3, 3, std=(cin * 9) ** -0.5)
        bn(img_sd, "bn" + name[-1], cout)
    inplanes = width
    for s in range(4):
        planes = width << s
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
    embed = width * 32
    img_sd["attnpool.positional_embedding"] = rnd((img // 32) ** 2 + 1, embed, std=embed ** -0.5)
    for n in ("q_proj", "k_proj", "v_proj"):
        lin(img_sd, "attnpool." + n, embed, embed)
    lin(img_sd, "attnpool.c_proj", embed, out_dim)
    torch.save(img_sd, os.path.join(out, "image_encoder(resnet50).pth"))
    txt_sd = {}
    bert_state(txt_sd, "", len(vocab), 16, 24, 2)
    torch.save(txt_sd, os.path.join(out, "text_encoder.pth"))
    torch.save(rnd(16, out_dim, std=0.25), os.path.join(out, "text_projection_layer.pth"))
    write_json(os.path.join(out, "config.json"), {"architectures": ["BertModel"], "model_type": "bert",
                                                  "hidden_size": 16, "num_attention_heads": 4, "num_hidden_layers": 2,
                                                  "intermediate_size": 24, "vocab_size": len(vocab),
                                                  "max_position_embeddings": 64, "hidden_act": "gelu",
                                                  "layer_norm_eps": 1e-12, "type_vocab_size": 2})
    write_json(os.path.join(out, "pmc_clip.json"), {"heads": 2, "logit_scale": 4.4292})
    write_json(os.path.join(out, "fixture.json"), dict(META, format="PMC-CLIP .pth folder", **PMCCLIP_ORACLE))


def make_medclip(out):
    """MedCLIP-ViT release layout: pytorch_model.bin (MedCLIPModel state dict: HF SwinModel + BertModel +
    projection heads + logit_scale), swin_config.json, Bio_ClinicalBERT's config.json + vocab.txt (it has
    no tokenizer_config.json). Swin sizes make every block pad its map to the window (26 -> 27, 13 -> 15,
    7 -> 9 with window 3), shift it, and one patch merging see an odd size (13 -> 7)."""
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(5)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + BERT_WORDS + [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in BERT_WORDS]
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    img, patch, dim, depths, heads, win, mlp_ratio, proj = 52, 2, 8, [2, 2, 2], [2, 2, 4], 3, 2.0, 12
    sd = {}
    v = "vision_model.model."
    sd[v + "embeddings.patch_embeddings.projection.weight"] = rnd(dim, 3, patch, patch, std=0.3)
    # A large patch bias keeps brightness visible after the per-token LayerNorm (else a random tower maps
    # every demo radiograph to nearly one feature and the lp demo cannot learn).
    sd[v + "embeddings.patch_embeddings.projection.bias"] = rnd(dim, std=2.0)
    ln(sd, v + "embeddings.norm", dim)
    coords = torch.stack(torch.meshgrid([torch.arange(win), torch.arange(win)], indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += win - 1
    rel[:, :, 1] += win - 1
    rel[:, :, 0] *= 2 * win - 1
    for i, (depth, h) in enumerate(zip(depths, heads)):
        d = dim << i
        for j in range(depth):
            p = f"{v}encoder.layers.{i}.blocks.{j}"
            ln(sd, p + ".layernorm_before", d)
            sd[p + ".attention.self.relative_position_bias_table"] = rnd((2 * win - 1) ** 2, h, std=0.5)
            sd[p + ".attention.self.relative_position_index"] = rel.sum(-1)
            for n in ("query", "key", "value"):
                lin(sd, f"{p}.attention.self.{n}", d, d)
            lin(sd, p + ".attention.output.dense", d, d)
            ln(sd, p + ".layernorm_after", d)
            lin(sd, p + ".intermediate.dense", d, int(mlp_ratio * d))
            lin(sd, p + ".output.dense", int(mlp_ratio * d), d)
        if i + 1 < len(depths):
            sd[f"{v}encoder.layers.{i}.downsample.reduction.weight"] = rnd(2 * d, 4 * d, std=(4 * d) ** -0.5)
            ln(sd, f"{v}encoder.layers.{i}.downsample.norm", 4 * d)
    final = dim << (len(depths) - 1)
    ln(sd, v + "layernorm", final)
    sd["vision_model.projection_head.weight"] = rnd(proj, final, std=final ** -0.5)
    dt, layers_t = 16, 3  # three layers, so hidden_states[2] and [-1] differ
    sd["text_model.model.embeddings.position_ids"] = torch.arange(64).unsqueeze(0)
    bert_state(sd, "text_model.model.", len(vocab), dt, 24, layers_t)
    sd["text_model.projection_head.weight"] = rnd(proj, dt, std=dt ** -0.5)
    sd["logit_scale"] = torch.tensor(4.9)  # above MedCLIP's clamp (4.6052), so the clamp is exercised
    torch.save(sd, os.path.join(out, "pytorch_model.bin"))
    write_json(os.path.join(out, "swin_config.json"), {
        "architectures": ["SwinForImageClassification"], "model_type": "swin", "image_size": img,
        "patch_size": patch, "num_channels": 3, "embed_dim": dim, "depths": depths, "num_heads": heads,
        "window_size": win, "mlp_ratio": mlp_ratio, "qkv_bias": True, "hidden_act": "gelu",
        "layer_norm_eps": 1e-5, "use_absolute_embeddings": False, "drop_path_rate": 0.1,
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "encoder_stride": 32})
    write_json(os.path.join(out, "config.json"), {"architectures": ["BertModel"], "model_type": "bert",
                                                  "hidden_size": dt, "num_attention_heads": 4,
                                                  "num_hidden_layers": layers_t, "intermediate_size": 24,
                                                  "vocab_size": len(vocab), "max_position_embeddings": 64,
                                                  "hidden_act": "gelu", "layer_norm_eps": 1e-12,
                                                  "type_vocab_size": 2})
    write_json(os.path.join(out, "fixture.json"),
               dict(META, format="MedCLIP-ViT release folder (pytorch_model.bin + swin_config.json + "
                    "Bio_ClinicalBERT config.json/vocab.txt)", **MEDCLIP_ORACLE))


def make_clinicalbert(out):
    """12 layers as the real model (BERTScore takes layer 12), tiny width; 40 positions so that long
    texts hit the trim to model_max_length - 2."""
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(5)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    words = BERT_WORDS + ["do", "not", "don", "'", "t", "left", "right", "lung", "heart", "is", "the", "and",
                          "effusion", "opacity", "size", "x", "ray", ".", ",", "-", "?", "!", "##ion", "##al"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    vocab += [c for c in letters if c not in vocab] + ["##" + c for c in letters if "##" + c not in vocab]
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    d, mlp, layers, pos = 8, 16, 12, 40
    sd = {}
    bert_state(sd, "bert.", len(vocab), d, mlp, layers, max_pos=pos)
    for k in list(sd):  # weak residual branches, so 12 random layers keep tokens apart (scores spread out)
        if k.endswith("output.dense.weight"):
            sd[k] = sd[k] * 0.3
    sd["bert.embeddings.position_ids"] = torch.arange(pos).unsqueeze(0)
    lin(sd, "cls.predictions.transform.dense", d, d)  # the pre-training heads AutoModel ignores
    sd["cls.predictions.bias"] = rnd(len(vocab))
    torch.save(sd, os.path.join(out, "pytorch_model.bin"))
    write_json(os.path.join(out, "config.json"), {
        "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": d,
        "initializer_range": 0.02, "intermediate_size": mlp, "layer_norm_eps": 1e-12,
        "max_position_embeddings": pos, "model_type": "bert", "num_attention_heads": 2,
        "num_hidden_layers": layers, "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": len(vocab)})
    write_json(os.path.join(out, "fixture.json"), dict(
        META, format="Hugging Face BERT folder as emilyalsentzer/Bio_ClinicalBERT ships it", provisional=True,
        oracle="python3-torch line-by-line port of bert_score 0.3.13 bert_score/utils.py + score.py and "
               "transformers modeling_bert.py (scripts/reference/bertscore_reference.py); ids from the npm "
               "tokenizers oracle (tests/tasks/bertscore_tokens_oracle.js)"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--clip-base":
        make_clip(sys.argv[2], None, base=True)  # a ViT-B/16-sized random CLIP for bench/clip_bench.cpp
        sys.exit(0)
    make_biomedclip(os.path.join(ROOT, "tiny-biomedclip"))
    make_pmcclip(os.path.join(ROOT, "tiny-pmcclip"))
    make_clinicalbert(os.path.join(ROOT, "tiny-clinicalbert"))
    make_clip(os.path.join(ROOT, "tiny-clip"), os.path.join(ROOT, "tiny-clip-bin"))
    make_siglip(os.path.join(ROOT, "tiny-siglip"))
    make_medclip(os.path.join(ROOT, "tiny-medclip"))
    print("wrote fixtures under", os.path.normpath(ROOT))
