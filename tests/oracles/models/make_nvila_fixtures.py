#!/usr/bin/env python3
"""A tiny NVILA checkpoint in the published VILA layout (Efficient-Large-Model/NVILA-8B), run through the
VILA code the reference vendors (ubc-tea/MedVLMBench model/release/vila) on the CPU in float32, with the
outputs the C++ tests (tests/models/nvila_test.cpp, tests/cli/nvila_eval_test.cpp) compare against.

  tests/fixtures/models/nvila/
    config.json                 LlavaLlamaConfig (model_type llava_llama) as NVILA-8B's: llm_cfg / vision_tower_cfg /
                                mm_projector_cfg dicts, image_aspect_ratio "dynamic_s2", dynamic_s2, s2_scales
                                (28,56,84 here: the published 448,896,1344 divided by 16), s2_resize_output_to_scale_idx
                                -1, max_tiles 12, mm_vision_select_layer -2 / cls_patch, chat_template "qwen2" (which
                                the vendored LlavaConfig drops: its __init__ has no chat_template parameter and calls
                                PretrainedConfig.__init__() without the other keys, so the tokenizer's own template
                                renders the prompt; the fixture proves it, its prompt has the tokenizer's period)
    llm/                        Qwen2ForCausalLM.save_pretrained + a tiny byte-level Qwen2 tokenizer (<image> and
                                <vila/video> saved as added special tokens, eos <|endoftext|>, its own ChatML template
                                whose system prompt ends with a period, so that the vendored qwen2.jinja is seen to win),
                                generation_config.json with bos / eos only and transformers_version 4.46.0 (as
                                published: generate() then keeps only its special tokens)
    vision_tower/               SiglipVisionModel.save_pretrained (28 px, patch 7) + SiglipImageProcessor
    mm_projector/               the vendored MultimodalProjector("mlp_downsample_2x2_fix").save_pretrained
    expected.safetensors, fixture.json

The LLM's vocab_size is 5 rows larger than the tokenizer (with the <vila/sentinel> token the reference adds at
load), so the reference's model.resize_token_embeddings(len(tokenizer)) truncates the embeddings and the head, as
it does whenever the checkpoint's vocabulary is padded.

Each case is what model/vila.py (VILA.infer_vision_language) does with one request: model.generate_content([PIL
image, question]); the images are ones tests/fixtures already holds (two aspect ratios and a square, so the last
scale's grid differs: 2 x 6, 3 x 3, 5 x 2), and case "resize" reads the same checkpoint with image_aspect_ratio
"resize" (what the reference's NVILA tuning saves). expected.safetensors holds per case <c>:
  input.<c>.input_ids         tokenize_conversation(...) ids (the <image> token included)
  input.<c>.pixel_index       uint8 [tiles, 3, S, S]: the dynamic-S2 tiles as indices into output.lut
  input.<c>.block_size        [rows, cols] of the last scale
  output.lut                  [3, 256] SiglipImageProcessor's rescale + normalize of every 8-bit value
  output.<c>.s2_features      merge_features_for_dynamic_s2 [1, 3C, H, W] (chessboard merge, area interpolation,
                              channel concatenation)
  output.<c>.image_embeds     encode_images [1, tokens, D]
  output.<c>.logits           teacher-forced llm logits over the prompt [1, L, V] (case vqa; the others: the
                              last position's [1, V])
  output.<c>.generated_ids    llm.generate under model.default_generation_config, max_new_tokens 32
  output.area.<k>.input/output  F.interpolate(mode="area") alone, for odd sizes
fixture.json holds the prompt texts, decoded answers, the generation config and the shims.

The vendored package cannot be imported as is in any one environment (it imports flash_attn, deepspeed, hydra,
loguru, cv2, s2wrapper, datasets and FP8 Qwen2 classes that transformers 4.53.1 no longer has), so the modules
that only serve other towers, training, video or FP8 are replaced by placeholders (SHIMS, recorded in
fixture.json); none of them is on the path run here. transformers 4.53.1 (the reference's pin) runs it: the
generator re-executes itself with PYTHONPATH=.venv/reference-tokenizers when the default transformers is another.
einops (a dependency of the vendored code) must be importable (pip install einops==0.8.2).

usage: .venv/bin/python tests/oracles/models/make_nvila_fixtures.py [--reference_repo PATH]
  PATH: a clone or bare git directory of ubc-tea/MedVLMBench (default $MEDVLMBENCH_REPO or
  /work/.mirror/ubc-tea+MedVLMBench/repo)
"""
import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built here; never reach a hub

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
REFERENCE_TRANSFORMERS = os.path.join(SRC, ".venv", "reference-tokenizers")
PIN = "4.53.1"


def ensure_reference_transformers():
    import transformers
    if transformers.__version__ == PIN:
        return
    if not os.path.isdir(REFERENCE_TRANSFORMERS):
        sys.exit(f"transformers {PIN} is needed (the reference's pin); install it into {REFERENCE_TRANSFORMERS}")
    env = dict(os.environ)
    env["PYTHONPATH"] = REFERENCE_TRANSFORMERS + os.pathsep + env.get("PYTHONPATH", "")
    env["MVB_NVILA_REEXEC"] = "1"
    assert "MVB_NVILA_REEXEC" not in os.environ, "re-executed but transformers is still " + transformers.__version__
    sys.exit(subprocess.call([sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env=env))


ensure_reference_transformers()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "common"))
import fixture_io  # noqa: E402

ROOT = os.path.join(SRC, "tests", "fixtures", "models")
OUT = os.path.join(ROOT, "nvila")
GENERATOR = "tests/oracles/models/make_nvila_fixtures.py"
WEIGHTS = "seeded random (torch.manual_seed; every parameter redrawn after the transformers init), float32"
NEW_TOKENS = 32

TILE = 28  # NVILA-8B: 448 (patch 14); here patch 7 so a tile is 4 x 4 patches
SCALES = [TILE, 2 * TILE, 3 * TILE]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MEDIA = ["<image>", "<vila/video>"]
MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "s"), ("Ġ", "i"), ("o", "n"), ("e", "r"),
          ("Ġ", "s"), ("i", "n"), ("a", "t"), ("Ġ", "c"), ("Ġ", "m"), ("e", "d"), ("Ġ", "p"), ("o", "r"),
          ("Ġ", "w"), ("Ġ", "r"), ("a", "l"), ("?", "Ċ")]
# The tokenizer's own template (Qwen2-Instruct's, whose default system prompt ends with a period); the
# checkpoint's config.json names chat_template "qwen2", so the vendored qwen2.jinja replaces it.
OWN_TEMPLATE = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
                "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
                "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

IMAGES = {
    "wide": "tests/fixtures/models/qwen2_vl_images/wide_190x60.png",  # last scale 2 x 6 tiles
    "xray": "tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",  # 48 x 48 grey: 3 x 3
    "tall": "tests/fixtures/models/internvl_images/tall_30x60.png",  # 5 x 2
}
VQA = "Is there evidence of pneumonia in the left lung?\nAnswer with a single word or phrase."
CAPTION = "Can you provide a medical report for this image?"
CASES = [("vqa", "wide", VQA), ("caption", "xray", CAPTION), ("tall", "tall", "What organ is shown? <image> "),
         # the same checkpoint read with image_aspect_ratio "resize" (what the reference's NVILA tuning saves):
         # one tile, its feature map repeated per scale
         ("resize", "wide", VQA)]
# F.interpolate(mode="area") alone: (input H, W) -> (output H, W), up and down, odd ratios.
AREA = [((4, 4), (8, 24)), ((8, 8), (12, 12)), ((7, 5), (12, 9)), ((16, 12), (12, 8)), ((5, 9), (5, 9))]

# What tests/models/nvila_test.cpp measured (LibTorch 1.13, CPU, fp32).
MEASURED = {"pixels": 0.0, "s2_features": 1.9e-6, "image_embeds": 3.0e-7, "logits": 3.1e-6, "area": 0.0,
            "generated_ids": "identical (32 tokens, 4 cases)", "input_ids": "identical"}

# sglang's independent NVILA feature path, read (not run: it needs its server runtime) as a cross-check.
CROSS_CHECK = {
    "code": "sgl-project/sglang python/sglang/srt/models/nvila.py @ 20c02154",
    "agrees": "hidden_states[-2] of SiglipVisionModel; merge_features_for_dynamic_s2, merge_chessboard and "
              "split_chessboard line for line; the 2x2 downsample's channel order (r,c),(r,c+1),(r+1,c),(r+1,c+1) "
              "and zero padding at the end; projector LayerNorm -> Linear -> GELU -> Linear",
    "differs": "scales 448/896/1344, resize_output_to_scale_idx -1 and mm_hidden 3456 hard-coded (the vendored code "
               "reads config.json); no '\\n' embedding appended after the image features (the vendored "
               "BasicImageEncoder appends tokenizer('\\n')); the HF-format 'nvila' config instead of the VILA layout",
}

# Placeholders for the vendored modules that are not on the NVILA inference path (see the docstring).
SHIMS = {
    "hydra.utils.instantiate": "a 10-line instantiate(cfg, **kw): import cfg['_target_'] and call it with the other "
                               "keys (the BasicImageEncoder / BasicVideoEncoder configs)",
    "s2wrapper": "empty module (multiscale_forward serves the non-dynamic s2 towers only)",
    "loguru": "module whose logger is logging.getLogger('vila')",
    "cv2": "empty module (video decoding)",
    "model.release.vila.train.sequence_parallel(.globals)": "every function returns None (get_pg_manager() is None "
                                                            "without sequence parallelism, as in a single process)",
    "model.release.vila.model.multimodal_encoder.intern_encoder / radio_encoder": "placeholders (InternViT / RADIO "
                                                                                  "towers: flash_attn, datasets)",
    "model.release.vila.model.language_model.fp8linearqwen2 / qllava_qllama": "placeholders (FP8 / quantized "
        "classes; fp8linearqwen2 imports Qwen2FlashAttention2, which transformers 4.53.1 no longer has)",
    "model / model.release packages": "namespace packages over the extracted tree, so model/__init__.py (the "
                                      "reference's registry of every model) is not executed",
    "SiglipVisionModel.from_pretrained(attn_implementation='flash_attention_2')": "eager attention (flash-attn "
        "needs CUDA; the same attention in float32)",
    "torch.Tensor.half / torch.Tensor.cuda in generate_content": "identity (the run stays on the CPU in float32)",
}


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


def extract_reference(repo, dest):
    git_dir = os.path.join(repo, ".git") if os.path.isdir(os.path.join(repo, ".git")) else repo
    if not os.path.isdir(git_dir):
        sys.exit(f"{repo}: no such repository (clone ubc-tea/MedVLMBench or pass --reference_repo)")
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    archive = subprocess.run(["git", "--git-dir", git_dir, "archive", commit, "model/release/vila"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "x", "-C", dest], input=archive, check=True)
    return commit


def install_shims(tree):
    import importlib
    import importlib.machinery
    import logging

    def stub(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        m.__path__ = []
        m.__spec__ = importlib.machinery.ModuleSpec(name, None)
        sys.modules[name] = m
        return m

    for name, path in (("model", os.path.join(tree, "model")), ("model.release", os.path.join(tree, "model", "release"))):
        m = types.ModuleType(name)
        m.__path__ = [path]
        sys.modules[name] = m

    def instantiate(cfg, **kw):
        cfg = dict(cfg)
        mod, _, cls = cfg.pop("_target_").rpartition(".")
        return getattr(importlib.import_module(mod), cls)(**cfg, **kw)

    stub("hydra")
    sys.modules["hydra"].utils = stub("hydra.utils", instantiate=instantiate)
    stub("s2wrapper", forward=None)
    stub("loguru", logger=logging.getLogger("vila"))
    stub("cv2")

    def none(*a, **k):
        return None

    def getattr_none(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return none

    for n in ("model.release.vila.train.sequence_parallel", "model.release.vila.train.sequence_parallel.globals",
              "model.release.vila.model.multimodal_encoder.intern_encoder",
              "model.release.vila.model.multimodal_encoder.radio_encoder",
              "model.release.vila.model.language_model.fp8linearqwen2",
              "model.release.vila.model.language_model.qllava_qllama"):
        stub(n).__getattr__ = getattr_none


def redraw(module, gen, scale=0.5):
    """Every parameter from a seeded normal (norm weights around 1), so nothing stays at its init."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1 and ("norm" in name or "layer_norm" in name or name.endswith("ln.weight")):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen)) if name.endswith("weight") else \
                    p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan = p.shape[-1] if p.dim() > 1 else 16
                p.copy_(torch.randn(p.shape, generator=gen) * scale * (fan ** -0.5 if p.dim() > 1 else 0.2))


def make_checkpoint(out):
    from transformers import (Qwen2Config, Qwen2ForCausalLM, Qwen2TokenizerFast, SiglipImageProcessor,
                              SiglipVisionConfig, SiglipVisionModel)
    from model.release.vila.model.multimodal_projector.base_projector import (MultimodalProjector,
                                                                              MultimodalProjectorConfig)
    gen = torch.Generator().manual_seed(15)
    torch.manual_seed(15)

    # llm/: tokenizer first (the vocabulary size follows it).
    vocab = bytes_to_unicode() + ["".join(m) for m in MERGES]
    v = {t: i for i, t in enumerate(vocab)}
    for s in SPECIALS + MEDIA:
        v[s] = len(v)
    # transformers 4.53.1 builds the tokenizer from vocab.json + merges.txt (the fast one, which the reference's
    # AutoTokenizer(use_fast=True) loads, converts from them and saves tokenizer.json too).
    files = tempfile.mkdtemp(prefix="nvila-tok-")
    with open(os.path.join(files, "vocab.json"), "w") as f:
        json.dump({t: i for t, i in v.items() if t not in SPECIALS + MEDIA}, f, ensure_ascii=False)
    with open(os.path.join(files, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES))
    tok = Qwen2TokenizerFast(vocab_file=os.path.join(files, "vocab.json"), merges_file=os.path.join(files, "merges.txt"),
                             eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token=None, bos_token=None)
    shutil.rmtree(files)
    tok.add_special_tokens({"additional_special_tokens": SPECIALS[1:] + MEDIA})
    assert [tok.convert_tokens_to_ids(t) for t in SPECIALS + MEDIA] == [v[t] for t in SPECIALS + MEDIA]
    tok.model_max_length = 8192
    tok.chat_template = OWN_TEMPLATE
    llm_dir = os.path.join(out, "llm")
    tok.save_pretrained(llm_dir)
    n_tok = len(tok) + 1  # the <vila/sentinel> the reference adds at load
    hidden = 64
    llm_cfg = Qwen2Config(vocab_size=n_tok + 5, hidden_size=hidden, intermediate_size=96, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                          rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False,
                          bos_token_id=v["<|endoftext|>"], eos_token_id=v["<|im_end|>"], torch_dtype="bfloat16")
    llm = Qwen2ForCausalLM(llm_cfg)
    redraw(llm, gen, scale=1.0)
    llm.save_pretrained(llm_dir, safe_serialization=True)
    with open(os.path.join(llm_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": v["<|endoftext|>"], "eos_token_id": v["<|im_end|>"],
                   "transformers_version": "4.46.0"}, f, indent=2)
        f.write("\n")

    # vision_tower/
    vt_cfg = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                                image_size=TILE, patch_size=7, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6,
                                torch_dtype="bfloat16")
    vt = SiglipVisionModel(vt_cfg)
    redraw(vt, gen, scale=1.0)
    vt_dir = os.path.join(out, "vision_tower")
    vt.save_pretrained(vt_dir, safe_serialization=True)
    SiglipImageProcessor(size={"height": TILE, "width": TILE}, resample=3, image_mean=[0.5] * 3,
                         image_std=[0.5] * 3).save_pretrained(vt_dir)

    # mm_projector/
    mm_hidden = 32 * len(SCALES)
    parent = types.SimpleNamespace(mm_hidden_size=mm_hidden, hidden_size=hidden)
    proj = MultimodalProjector(MultimodalProjectorConfig("mlp_downsample_2x2_fix"), parent)
    redraw(proj, gen, scale=1.0)
    proj.config.torch_dtype = "bfloat16"
    proj.save_pretrained(os.path.join(out, "mm_projector"), safe_serialization=True)

    # config.json: NVILA-8B's top level with this checkpoint's sizes (the sub-configs as dicts, as published).
    def sub(folder):
        with open(os.path.join(out, folder, "config.json")) as f:
            d = json.load(f)
        d["_name_or_path"] = folder
        return d
    top = {"_name_or_path": "tiny-nvila", "architectures": ["LlavaLlamaModel"], "model_type": "llava_llama",
           "chat_template": "qwen2", "drop_path_rate": 0.0, "dynamic_s2": True, "fps": 0.0, "hidden_size": hidden,
           "image_aspect_ratio": "dynamic_s2", "interpolate_mode": "linear", "llm_cfg": sub("llm"),
           "max_tiles": 12, "min_tiles": 1, "mm_hidden_size": mm_hidden, "mm_projector_cfg": sub("mm_projector"),
           "mm_projector_lr": None, "mm_use_im_patch_token": True, "mm_use_im_start_end": False,
           "mm_vision_select_feature": "cls_patch", "mm_vision_select_layer": -2, "model_dtype": "torch.bfloat16",
           "num_time_tokens": 0, "num_video_frames": 8, "resume_path": "tiny-nvila", "s2": False,
           "s2_max_split_size": TILE, "s2_resize_output_to_scale_idx": -1,
           "s2_scales": ",".join(str(s) for s in SCALES), "soft_ce_std": 1.0, "time_token_format": "<t{t}>",
           "time_token_ids": [], "transformers_version": "4.46.0", "tune_language_model": True,
           "tune_mm_projector": True, "tune_vision_tower": True, "vision_resolution": -1,
           "vision_tower_cfg": sub("vision_tower"), "video_max_tiles": 1}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(top, f, indent=2, sort_keys=True)
        f.write("\n")
    return n_tok


def load_reference(path):
    """model/vila.py VILA.load_from_pretrained for a non-LoRA NVILA folder, in float32 on the CPU."""
    from transformers import AutoConfig
    import model.release.vila.model as vila_model  # registers llava_llama
    from model.release.vila.model.builder import prepare_config_for_eval
    from model.release.vila.model.multimodal_encoder import siglip_encoder

    real = siglip_encoder.SiglipVisionModel.from_pretrained.__func__

    def eager_from_pretrained(cls, *a, **k):
        k["attn_implementation"] = "eager"
        return real(cls, *a, **k)
    siglip_encoder.SiglipVisionModel.from_pretrained = classmethod(eager_from_pretrained)

    kwargs = {"device_map": {"": "cpu"}, "torch_dtype": torch.float32}
    config = AutoConfig.from_pretrained(path)
    config.resume_path = path
    prepare_config_for_eval(config, kwargs)
    model = vila_model.LlavaLlamaModel(config=config, low_cpu_mem_usage=True, **kwargs)
    tokenizer = model.tokenizer
    model.eval()
    model.resize_token_embeddings(len(tokenizer))
    return model, tokenizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference_repo",
                    default=os.environ.get("MEDVLMBENCH_REPO", "/work/.mirror/ubc-tea+MedVLMBench/repo"))
    args = ap.parse_args()
    try:
        import einops  # noqa: F401
    except ImportError:
        sys.exit("the vendored VILA code needs einops: pip install einops==0.8.2")

    tree = tempfile.mkdtemp(prefix="medvlmbench-vila-")
    commit = extract_reference(args.reference_repo, tree)
    sys.path.insert(0, tree)
    install_shims(tree)

    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    n_tok = make_checkpoint(OUT)
    model, tokenizer = load_reference(OUT)
    assert model.llm.lm_head.weight.shape[0] == n_tok, "resize_token_embeddings did not truncate as planned"

    from model.release.vila.mm_utils import process_image
    from model.release.vila.utils.tokenizer import tokenize_conversation

    real_half, real_cuda = torch.Tensor.half, torch.Tensor.cuda
    torch.Tensor.half = lambda self, *a, **k: self
    torch.Tensor.cuda = lambda self, *a, **k: self

    # The SiglipImageProcessor value of every 8-bit level (rescale then normalize in float32).
    lut = np.stack([model.vision_tower.image_processor.preprocess(
        np.full((1, 256, 3), 0, np.uint8) + np.arange(256, dtype=np.uint8)[None, :, None],
        return_tensors="np", do_resize=False, input_data_format="channels_last")["pixel_values"][0][c, 0]
        for c in range(3)])
    inputs, outputs, meta = {}, {"lut": torch.from_numpy(lut.copy())}, {}
    gen_cfg = model.default_generation_config
    for name, image_key, question in CASES:
        image = Image.open(os.path.join(SRC, IMAGES[image_key])).convert("RGB")
        captured = {}
        real_generate = model.llm.generate

        def llm_generate(*a, **k):
            k["generation_config"] = copy.deepcopy(k["generation_config"])
            captured["generation_config"] = k["generation_config"].to_dict()
            k["generation_config"].max_new_tokens = NEW_TOKENS
            captured["inputs_embeds"] = k["inputs_embeds"]
            out = real_generate(*a, **k)
            captured["ids"] = out
            return out
        real_embed_generate = type(model).generate

        def vlm_generate(self, input_ids=None, media=None, media_config=None, **k):
            captured["input_ids"] = input_ids
            captured["media"] = [t.clone() for t in media["image"]]
            captured["block_sizes"] = media_config["image"].get("block_sizes", [None] * len(media["image"]))
            return real_embed_generate(self, input_ids=input_ids, media=media, media_config=media_config, **k)
        model.llm.generate = llm_generate
        type(model).generate = vlm_generate
        aspect = model.config.image_aspect_ratio
        if name == "resize":
            model.config.image_aspect_ratio = "resize"
        try:
            answer = model.generate_content([image, question])  # VILA.infer_vision_language
        finally:
            model.llm.generate = real_generate
            type(model).generate = real_embed_generate

        pixels = torch.stack(captured["media"])
        # 8-bit indices of the tiles: invert the lut per channel (asserted bit for bit below).
        index = torch.empty(pixels.shape, dtype=torch.uint8)
        for c in range(3):
            values = torch.from_numpy(lut[c].copy())
            d = (pixels[:, c, :, :, None] - values).abs()
            index[:, c] = d.argmin(-1).to(torch.uint8)
            assert torch.equal(values[index[:, c].long()], pixels[:, c]), "a pixel value is not on the lut"
        # The same tiles straight from process_image, as generate_content made them.
        model.config.image_processor = model.vision_tower.image_processor
        if name == "resize":
            tiles, block = process_image(image, model.config, None)[None], [0, 0]
            assert captured["block_sizes"] == [None]
        else:
            tiles, block = process_image(image, model.config, None, enable_dynamic_s2=True)
            assert list(block) == list(captured["block_sizes"][0])
        assert torch.equal(tiles, pixels)
        with torch.no_grad():
            feats = model.get_vision_tower()(pixels)
            s2, _ = model.merge_features_for_dynamic_s2(feats, captured["block_sizes"])
            embeds = model.encode_images(pixels, block_sizes=captured["block_sizes"])
            logits = model.llm(inputs_embeds=captured["inputs_embeds"]).logits
        model.config.image_aspect_ratio = aspect
        ids = captured["input_ids"][0]
        inputs[f"{name}.input_ids"] = ids.to(torch.int64)
        inputs[f"{name}.pixel_index"] = index
        inputs[f"{name}.block_size"] = torch.tensor(list(block), dtype=torch.int64)
        outputs[f"{name}.s2_features"] = s2[0]
        outputs[f"{name}.image_embeds"] = embeds
        outputs[f"{name}.logits"] = logits if name == "vqa" else logits[:, -1]
        outputs[f"{name}.generated_ids"] = captured["ids"][0].to(torch.int64)
        text = tokenizer.apply_chat_template([{"role": "user", "content": "<image>" + question.replace("<image>", "").strip()}],
                                             add_generation_prompt=True, tokenize=False)
        assert torch.equal(tokenize_conversation([{"from": "human", "value": "<image>" + question.replace("<image>", "").strip()}],
                                                 tokenizer, add_generation_prompt=True), ids)
        meta[name] = {"image": IMAGES[image_key], "question": question, "prompt_text": text, "answer": answer,
                      "tiles": int(pixels.shape[0]), "block_size": list(block),
                      "prompt_positions": int(captured["inputs_embeds"].shape[1]),
                      "generated": len(captured["ids"][0])}
        gc = captured["generation_config"]
    torch.Tensor.half, torch.Tensor.cuda = real_half, real_cuda

    gen = torch.Generator().manual_seed(7)
    for k, (src, dst) in enumerate(AREA):
        x = torch.randn(1, 3, *src, generator=gen)
        inputs[f"area.{k}"] = x
        outputs[f"area.{k}"] = F.interpolate(x, size=dst, mode="area")

    # The last scale's grid: the vendored find_closest_aspect_ratio over the reference's set-ordered candidates
    # against the (i outer, j inner) order the C++ port uses (processor.cpp last_scale_grid), for every size up to
    # 1500 x 1500 at NVILA-8B's 448 px tiles and 9..12 tiles.
    from model.release.vila.mm_utils import find_closest_aspect_ratio
    lo, hi = 9, 12
    as_set = sorted({(i, j) for n in range(lo, hi + 1) for i in range(1, n + 1) for j in range(1, n + 1)
                     if lo <= i * j <= hi}, key=lambda x: x[0] * x[1])
    as_loops = sorted([(i, j) for i in range(1, hi + 1) for j in range(1, hi + 1) if lo <= i * j <= hi],
                      key=lambda x: x[0] * x[1])
    differ = sum(find_closest_aspect_ratio(w / h, as_set, w, h, 448) != find_closest_aspect_ratio(w / h, as_loops, w, h, 448)
                 for w in range(1, 1501) for h in range(1, 1501))
    assert differ == 0, f"{differ} sizes pick another grid in the set order"

    fixture_io.save_expected(OUT, inputs, outputs)
    stop = sorted(int(i) for i in tokenizer.stop_token_ids)
    fixture_io.write_fixture_json(
        OUT, generator=GENERATOR,
        library={**fixture_io.versions("transformers", "einops"),
                 "MedVLMBench (vendored VILA/NVILA code, model/release/vila)": commit},
        oracle=("model/vila.py VILA.load_from_pretrained steps (AutoConfig, prepare_config_for_eval, "
                "LlavaLlamaModel(config), resize_token_embeddings(len(tokenizer))) in float32 on the CPU, then "
                "LlavaLlamaModel.generate_content([PIL image, question]) (VILA.infer_vision_language); "
                "pixels / block sizes captured at LlavaMetaForCausalLM.generate, logits = llm(inputs_embeds="
                "_embed(...)).logits, generated ids = llm.generate under default_generation_config with "
                f"max_new_tokens={NEW_TOKENS}; area: torch.nn.functional.interpolate(mode='area')"),
        shims=SHIMS, cross_check=CROSS_CHECK, weights=WEIGHTS, cases=meta, stop_token_ids=stop,
        # eos_token_id comes from a Python set of strings (infer_stop_tokens): its order follows the hash seed.
        generation_config_reference={k: (sorted(gc[k]) if k == "eos_token_id" else gc[k]) for k in ("do_sample", "max_length", "max_new_tokens", "eos_token_id",
                                                        "pad_token_id", "bos_token_id", "temperature", "top_k",
                                                        "top_p", "repetition_penalty")},
        vocab={"llm_config": n_tok + 5, "after_resize_token_embeddings": n_tok},
        grid_order_sweep={"sizes": "1..1500 x 1..1500", "tile": 448, "tiles": [lo, hi],
                          "sizes_choosing_differently": differ},
        tolerance={"pixels": 0, "s2_features": 1e-5, "image_embeds": 1e-4, "logits": 1e-4, "area": 1e-6},
        max_abs_diff_measured=MEASURED)
    shutil.rmtree(tree, ignore_errors=True)
    print("wrote", OUT)
    for name, m in meta.items():
        print(name, m["tiles"], m["block_size"], m["prompt_positions"], m["generated"], repr(m["answer"][:60]))


if __name__ == "__main__":
    main()
