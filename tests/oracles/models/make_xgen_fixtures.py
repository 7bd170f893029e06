"""Fixtures for XGenMiniV1 (xGen-MM / BLIP-3, Salesforce/xgen-mm-phi3-mini-instruct-r-v1) in tests/fixtures/models/xgen/.

usage: python tests/oracles/models/make_xgen_fixtures.py        (writes tests/fixtures/models/xgen/)

There is no transformers class for xGen-MM. The oracle is the published modelling code, run on the CPU in
float32 with tiny seeded random weights in the checkpoint's layout:

  model      (transformers 4.53.1, the reference's pin, from <venv>/reference-tokenizers)
             Salesforce's LAVIS repository, branch xgen-mm (open_flamingo/src/{xgenmm,vlm,helpers,utils,
             cross_attn_lm}.py, open_flamingo/train/any_res_data_utils.py): XGenMMPerceiver (anyres with patch
             sampling, PerceiverResampler, DecoupledEmbedding / DecoupledLinear) over transformers'
             SiglipVisionTransformer and Phi3ForCausalLM. The files are read from a git mirror of that
             repository ($MVB_LAVIS_GIT, default /work/.mirror/salesforce+LAVIS/repo) at XGEN_MM_COMMIT.
             Shims (recorded in fixture.json): empty package __init__ files instead of open_flamingo's (those
             import the training factory, open_clip and omegaconf); einops 0.8.1 / einops-exts 0.0.4 on
             $MVB_EINOPS_PATH (not in the oracle venv).
  processor  the Blip3ImageProcessor remote code (image_processing_blip_3.py) of the xGen-MM Hugging Face
             repositories, as mirrored on GitHub (Beniko95J/eval_llm, a clone of Salesforce/
             xgen-mm-phi3-mini-base-r-v1.5; $MVB_XGEN_HF_GIT) at XGEN_HF_COMMIT, called as the model card
             does: image_processor([image], image_aspect_ratio="anyres"), with the r-v1 grids.
  tokenizer  transformers 4.53.1's slow LlamaTokenizer (use_fast=False, legacy=False) then
             update_special_tokens (add_special_tokens of <image>, <image placeholder>, <|endofchunk|>).

The HF repository of r-v1 itself is not reachable here; its modeling_xgenmm.py is a flattened copy of the
same LAVIS classes (the r-v1 model card credits LAVIS), which is why LAVIS is run.
"""

import json
import os
import subprocess
import sys
import tempfile

import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import fixture_io  # noqa: E402
from make_llava_fixtures import spm_model  # noqa: E402  (the 320-piece LLaMA-style SentencePiece model)

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
ROOT = os.path.join(SRC, "tests", "fixtures", "models", "xgen")
GENERATOR = "tests/oracles/models/make_xgen_fixtures.py"
LAVIS_GIT = os.environ.get("MVB_LAVIS_GIT", "/work/.mirror/salesforce+LAVIS/repo")
XGEN_MM_COMMIT = "d699f7e"  # LAVIS branch xgen-mm
HF_GIT = os.environ.get("MVB_XGEN_HF_GIT", "/work/.mirror/Beniko95J+eval_llm/repo")
XGEN_HF_COMMIT = "7138e30"
EINOPS = os.environ.get("MVB_EINOPS_PATH", "/tmp/xg/pylib")
REFERENCE_TOKENIZERS = os.path.join(sys.prefix, "reference-tokenizers")

BASE = 42  # image size of the tiny SigLIP (3 x 3 patches of 14)
GRIDS = [[BASE, 2 * BASE], [2 * BASE, BASE], [2 * BASE, 2 * BASE], [3 * BASE, BASE], [BASE, 3 * BASE]]
SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the user's questions.")
IMAGES = {"wide_120x25.png": (120, 25), "tall_18x90.png": (18, 90)}  # 3 x 1 and 1 x 3 crops, both unpadded
SOURCE_IMAGE = "tests/fixtures/datasets/Camelyon17/patches/patient_004_node_0/patch_patient_004_node_0_x_3328_y_21792.png"
QUESTIONS = ["What modality is used to take this image?", "Is there a nodule in the left lung?\nAnswer yes or no."]
NEW_TOKENS = 32
SPECIAL = ["<|endoftext|>", "<|assistant|>", "<|placeholder1|>", "<|placeholder2|>", "<|placeholder3|>",
           "<|placeholder4|>", "<|system|>", "<|end|>", "<|placeholder5|>", "<|placeholder6|>", "<|user|>", "<pad>"]
# What tests/models/xgen_test.cpp measured ("[measured]" lines; LibTorch 1.13, CPU, fp32); ids identical.
MEASURED = {"logits": 3.34e-6, "pixel_values": 0.0}


def template(q):
    return f"<|system|>\n{SYSTEM}<|end|>\n<|user|>\n<image>\n{q}<|end|>\n<|assistant|>\n"


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def git_show(repo, commit, path):
    return subprocess.run(["git", "--git-dir", repo, "show", f"{commit}:{path}"], check=True, capture_output=True,
                          text=True).stdout


def import_published_code():
    d = tempfile.mkdtemp(prefix="mvb_xgen_")
    for sub in ("open_flamingo", "open_flamingo/src", "open_flamingo/train"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        open(os.path.join(d, sub, "__init__.py"), "w").close()  # shim: the real ones import the trainer
    for f in ("xgenmm", "vlm", "helpers", "utils", "cross_attn_lm"):
        with open(os.path.join(d, "open_flamingo", "src", f + ".py"), "w") as out:
            out.write(git_show(LAVIS_GIT, XGEN_MM_COMMIT, f"open_flamingo/src/{f}.py"))
    with open(os.path.join(d, "open_flamingo", "train", "any_res_data_utils.py"), "w") as out:
        out.write(git_show(LAVIS_GIT, XGEN_MM_COMMIT, "open_flamingo/train/any_res_data_utils.py"))
    with open(os.path.join(d, "image_processing_blip_3.py"), "w") as out:
        out.write(git_show(HF_GIT, XGEN_HF_COMMIT, "image_processing_blip_3.py"))
    sys.path.insert(0, EINOPS)
    sys.path.insert(0, d)
    from open_flamingo.src.xgenmm import XGenMMPerceiver
    from image_processing_blip_3 import Blip3ImageProcessor
    return XGenMMPerceiver, Blip3ImageProcessor


# ---------------------------------------------------------------- tokenizer (transformers 4.53.1, slow)
def tokenizer_files(out):
    spm_model(os.path.join(out, "tokenizer.model"))
    import sentencepiece as spm
    n = spm.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer.model")).get_piece_size()
    # Phi-3's tokenizer: LLaMA's SentencePiece model then 12 added tokens (32000.. in the real one).
    added = {}
    for i, t in enumerate(SPECIAL):
        rstrip = t not in ("<|endoftext|>", "<pad>")
        added[str(n + i)] = {"content": t, "lstrip": False, "normalized": False, "rstrip": rstrip,
                             "single_word": False, "special": True}
    decoder = {"0": {"content": "<unk>", "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True},
               "1": {"content": "<s>", "lstrip": False, "normalized": False, "rstrip": False,
                     "single_word": False, "special": True},
               "2": {"content": "</s>", "lstrip": False, "normalized": False, "rstrip": True,
                     "single_word": False, "special": False}}
    decoder.update(added)
    cfg = {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": decoder, "bos_token": "<s>",
           "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>", "legacy": False,
           "model_max_length": 4096, "pad_token": "<pad>", "padding_side": "left", "sp_model_kwargs": {},
           "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>", "use_default_system_prompt": False}
    write_json(os.path.join(out, "tokenizer_config.json"), cfg)
    write_json(os.path.join(out, "added_tokens.json"), {t: n + i for i, t in enumerate(SPECIAL)})
    write_json(os.path.join(out, "special_tokens_map.json"),
               {"bos_token": "<s>", "eos_token": "<|endoftext|>", "pad_token": "<pad>", "unk_token": "<unk>"})
    return n


TOKENIZE = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
import transformers
from transformers import AutoTokenizer
req = json.load(open(sys.argv[1]))
tok = AutoTokenizer.from_pretrained(req["folder"], use_fast=False, legacy=False)
initial = len(tok)
# XGenMMModelForConditionalGeneration.update_special_tokens
tok.add_special_tokens({"additional_special_tokens": ["<image>", "<image placeholder>", "<|endofchunk|>"]})
out = {"version": transformers.__version__, "class": type(tok).__name__, "initial_len": initial, "len": len(tok),
       "ids": [tok(p)["input_ids"] for p in req["prompts"]],
       "media": tok.convert_tokens_to_ids("<image>"),
       "specials": {t: tok.convert_tokens_to_ids(t) for t in ["<image>", "<image placeholder>", "<|endofchunk|>"]}, "end": tok.convert_tokens_to_ids("<|end|>"),
       "pad": tok.pad_token_id,
       "decode": [tok.decode(ids, skip_special_tokens=True) for ids in req["decode"]]}
print(json.dumps(out))
"""


def reference_tokenize(folder, prompts, decode):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"folder": folder, "prompts": prompts, "decode": decode}, f)
    env = dict(os.environ, HF_HUB_OFFLINE="1", USE_TORCH="0", TRANSFORMERS_VERBOSITY="error")
    try:
        r = subprocess.run([sys.executable, "-c", TOKENIZE, f.name, REFERENCE_TOKENIZERS], check=True,
                           capture_output=True, text=True, env=env)
    finally:
        os.unlink(f.name)
    return json.loads(r.stdout)


# ---------------------------------------------------------------- model
def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif "embed" in name or "latents" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * p[0].numel() ** -0.5)


def build(XGenMMPerceiver, initial_len, pad_id):
    from transformers import Phi3Config, Phi3ForCausalLM, SiglipVisionConfig, SiglipVisionModel
    vcfg = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_channels=3,
                image_size=BASE, patch_size=14, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    vision = SiglipVisionModel(SiglipVisionConfig(**vcfg)).vision_model
    tcfg = dict(vocab_size=384, hidden_size=24, intermediate_size=40, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=1, hidden_act="silu", max_position_embeddings=4096,
                original_max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0, rope_scaling=None,
                sliding_window=2047, bos_token_id=1, eos_token_id=initial_len - len(SPECIAL), pad_token_id=pad_id,
                tie_word_embeddings=False, attention_dropout=0.0, resid_pdrop=0.0, embd_pdrop=0.0)
    cfg = Phi3Config(**tcfg)
    cfg._attn_implementation = "eager"
    lm = Phi3ForCausalLM(cfg)
    perceiver = dict(depth=2, dim_head=8, heads=2, num_latents=3)
    model = XGenMMPerceiver(vision_encoder=vision, lang_model=lm, vis_feature_dim=16, initial_tokenizer_len=initial_len,
                            pad_token_id=pad_id, decoder_layers_attr_name="model.layers", base_img_size=BASE,
                            image_aspect_ratio="anyres", anyres_patch_sampling=True, num_vision_tokens=3)
    # The perceiver's depth / heads / head size are PerceiverResampler constants in the published code
    # (6 / 16 / 96); the tiny model shrinks them and config.json records them (vision_tokenizer_config).
    from open_flamingo.src.helpers import PerceiverResampler
    model.vision_tokenizer = PerceiverResampler(dim=16, dim_inner=24, depth=perceiver["depth"],
                                                dim_head=perceiver["dim_head"], heads=perceiver["heads"],
                                                num_latents=perceiver["num_latents"])
    model.num_tokens_per_vis = perceiver["num_latents"]
    model.anyres_grids = GRIDS
    redraw(model, 1234)
    model.eval()
    return model, vcfg, tcfg, perceiver


def config_json(vcfg, tcfg, perceiver, initial_len):
    text = dict(tcfg, model_type="phi3", initial_tokenizer_len=initial_len, torch_dtype="float32")
    return {"architectures": ["XGenMMModelForConditionalGeneration"],
            "auto_map": {"AutoConfig": "modeling_xgenmm.XGenMMConfig",
                         "AutoModelForVision2Seq": "modeling_xgenmm.XGenMMModelForConditionalGeneration"},
            "model_type": "xgenmm", "text_config": text, "torch_dtype": "float32",
            "vision_encoder_config": {"anyres_patch_sampling": True, "image_aspect_ratio": "anyres",
                                      "model_type": "xgenmm_vision_encoder", "model_name": "tiny-siglip",
                                      "anyres_grids": GRIDS,
                                      # Not in the published file (the tower comes from model_name there).
                                      "vision_config": dict(vcfg, model_type="siglip_vision_model")},
            "vision_tokenizer_config": {"model_type": "xgenmm_vision_tokenizer", "vis_feature_dim": 16,
                                        "lang_embedding_dim": 24, "num_vis_tokens": perceiver["num_latents"],
                                        # Not in the published file (PerceiverResampler's constants there).
                                        "depth": perceiver["depth"], "dim_head": perceiver["dim_head"],
                                        "heads": perceiver["heads"]}}


def main():
    # transformers 4.53.1 (the reference's version; SiglipVisionTransformer, which the published code names,
    # is gone from transformers 5) from the oracle venv's reference-tokenizers folder.
    sys.path.insert(0, REFERENCE_TOKENIZERS)
    out = ROOT
    os.makedirs(out, exist_ok=True)
    XGenMMPerceiver, Blip3ImageProcessor = import_published_code()
    n_spm = tokenizer_files(out)
    initial_len = n_spm + len(SPECIAL)
    prompts = [template(q) for q in QUESTIONS]
    tok = reference_tokenize(out, prompts, [])
    assert tok["initial_len"] == initial_len and tok["media"] == initial_len, tok
    model, vcfg, tcfg, perceiver = build(XGenMMPerceiver, initial_len, tok["pad"])
    # XGenMMModelForConditionalGeneration.update_special_tokens, after the tokenizer's.
    model.lang_model.config.vocab_size = tok["len"]
    model.set_special_token_ids(tok["specials"])

    # Checkpoint in the published layout: vlm.<XGenMMPerceiver state dict>, float32 safetensors, sharded in two.
    from safetensors.torch import save_file
    sd = {"vlm." + k: v.detach().contiguous() for k, v in model.state_dict().items()}
    names = sorted(sd)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map = {}
    for shard, keys in shards.items():
        save_file({k: sd[k] for k in keys}, os.path.join(out, shard), metadata={"format": "pt"})
        weight_map.update({k: shard for k in keys})
    write_json(os.path.join(out, "model.safetensors.index.json"),
               {"metadata": {"total_size": sum(v.numel() * 4 for v in sd.values())}, "weight_map": weight_map})
    write_json(os.path.join(out, "config.json"), config_json(vcfg, tcfg, perceiver, initial_len))
    write_json(os.path.join(out, "generation_config.json"),
               {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": tcfg["eos_token_id"],
                "pad_token_id": tok["pad"], "transformers_version": "4.41.1"})
    pre = {"auto_map": {"AutoImageProcessor": "image_processing_blip_3.Blip3ImageProcessor"}, "do_resize": True,
           "grids": GRIDS, "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "Blip3ImageProcessor",
           "image_std": [0.5, 0.5, 0.5], "interpolation_mode": "bicubic", "resize_mode": "squash",
           "size": [BASE, BASE]}
    write_json(os.path.join(out, "preprocessor_config.json"), pre)
    proc = Blip3ImageProcessor(**{k: v for k, v in pre.items() if k not in ("auto_map", "image_processor_type")})
    proc.grids = GRIDS

    src = Image.open(os.path.join(SRC, SOURCE_IMAGE)).convert("RGB")
    inputs, outputs = {}, {}
    cases = []
    for c, (name, size) in enumerate(IMAGES.items()):
        src.resize(size, Image.BICUBIC).save(os.path.join(out, name))
        img = Image.open(os.path.join(out, name)).convert("RGB")
        px = proc([img], return_tensors="pt", image_aspect_ratio="anyres")["pixel_values"]  # [1, crops, 3, S, S]
        ids = torch.tensor([tok["ids"][c]])
        mask = torch.ones_like(ids)
        with torch.no_grad():
            logits = model(vision_x=[px[0]], lang_x=ids, attention_mask=mask, image_size=[img.size]).logits[0]
            gen = model.generate(vision_x=[px[0]], lang_x=ids, attention_mask=mask, image_size=[img.size],
                                 max_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1, eos_token_id=tok["end"],
                                 pad_token_id=tok["pad"])
        gen = gen[0].tolist()
        inputs[f"{c}.pixel_values"] = px[0]
        inputs[f"{c}.input_ids"] = ids[0]
        outputs[f"{c}.logits"] = logits
        outputs[f"{c}.generated_ids"] = torch.tensor(gen)
        cases.append({"image": name, "size": list(size), "question": QUESTIONS[c], "crops": int(px.shape[1]),
                      "prompt": prompts[c], "generated_ids": gen})
    dec = reference_tokenize(out, [], [c["generated_ids"] for c in cases])
    for c, text in zip(cases, dec["decode"]):
        c["decoded_skip_special"] = text
        c["answer"] = text.split("<|end|>")[0]
    fixture_io.save_expected(out, inputs, outputs)
    import transformers
    fixture_io.write_fixture_json(
        out, generator=GENERATOR,
        library=dict(fixture_io.versions("transformers", "pillow", "torchvision"), **{
            "transformers (tokenizer)": tok["version"], "einops": "0.8.1", "einops-exts": "0.0.4"}),
        oracle={"model": f"LAVIS {XGEN_MM_COMMIT} (branch xgen-mm) open_flamingo.src.xgenmm.XGenMMPerceiver over "
                         "transformers SiglipVisionModel(...).vision_model and Phi3ForCausalLM (eager): "
                         "forward(vision_x=[pixel_values], lang_x, attention_mask, image_size=[(W, H)]).logits and "
                         f"generate(..., max_new_tokens={NEW_TOKENS}, do_sample=False, num_beams=1, "
                         "eos_token_id=<|end|>, pad_token_id=<pad>)",
                "processor": f"image_processing_blip_3.Blip3ImageProcessor (HF remote code, mirror {XGEN_HF_COMMIT}) "
                             "([image], return_tensors='pt', image_aspect_ratio='anyres') with grids set",
                "tokenizer": f"transformers {tok['version']} {tok['class']} (use_fast=False, legacy=False) + "
                             "update_special_tokens; decode(skip_special_tokens=True)",
                "shims": ["empty open_flamingo/__init__.py, src/__init__.py, train/__init__.py (the real ones "
                          "import the training factory)", "einops/einops-exts from $MVB_EINOPS_PATH",
                          "PerceiverResampler built with depth/dim_head/heads of the tiny model",
                          "model.anyres_grids set as the trainer sets it"]},
        weights="seeded random (torch.Generator 1234; every parameter redrawn)",
        tolerance={"logits": 1e-4, "pixel_values": 0.0, "ids": "identical"},
        max_abs_diff_measured=MEASURED, cases=cases,
        notes="config.json keeps the published layout plus two keys the published file lacks because its tower and "
              "perceiver sizes are constants there: vision_encoder_config.vision_config and "
              "vision_tokenizer_config.{depth,dim_head,heads}.")
    print(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
