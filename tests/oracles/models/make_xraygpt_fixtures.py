#!/usr/bin/env python3
"""A tiny XrayGPT (MiniGPT-4) checkpoint in the layout the reference loads, run by the reference's own
code (MedVLMBench model/xraygpt.py and the MiniGPT-4 it vendors in model/release/xraygpt/), with the
outputs tests/models/xraygpt_test.cpp compares against.

  tests/fixtures/models/xraygpt/          = the reference's ./pretrained_models/ folder, files named as it
                                            and LAVIS name them:
    xraygpt_pretrained1.pth               the MiniGPT-4 checkpoint as MiniGPT-4's runner saves it
                                          ({"model": {llama_proj.*}, "optimizer", "config", "scaler", "epoch"})
    eva_vit_g.pth                         LAVIS's EVA ViT-g state dict (bare EVA names, q_bias / v_bias, fp16)
    blip2_pretrained_flant5xxl.pth        LAVIS's BLIP-2 stage-1 checkpoint ({"model": Qformer.* with the
                                          word/position embeddings, text FFNs and cls head MiniGPT-4 drops,
                                          query_tokens, ln_vision.*, vision_proj / text_proj / itm_head / temp})
    Vicuna_Radiology_fp16/                LlamaForCausalLM.save_pretrained (fp16, pytorch_model*.bin shards) and
                                          the slow LlamaTokenizer files (tokenizer.model, no "legacy" key, as
                                          Vicuna-era configs)
    xraygpt_config.json                   the sizes of this tiny model (the published ones are hard-coded in the
                                          reference: EVA ViT-g 1408x39, bert-base Q-Former, 224 px)
    expected.safetensors, fixture.json

The oracle is XrayGPT(args).infer_vision_language(image.unsqueeze(0), question) on CPU in float32, with:
  - the reference's pixel tensor bug fixed (the dataset hands a 3-D tensor; encode_img needs [B, 3, H, W]);
  - llama_model.generate intercepted: its inputs (the BOS + prompt + query embeddings) and arguments are
    recorded, and greedy ids come from the same model (the reference samples with top_p 0.9, which no
    other program can reproduce); the wrapper's clean-up then runs on them unchanged. (Under 4.53.1 that
    generate() does not exist: the vendored LlamaForCausalLM predates GenerationMixin's split from
    PreTrainedModel; transformers' generate with GenerationMixin mixed in is checked to give the same ids);
  - only sizes patched (EVA width/depth/heads, the bert-base Q-Former config, 56 px), downloads redirected
    to the files above, the LLM cast to float32 after its fp16 load, and the imports the wrapper needs
    but this environment cannot have replaced by stand-ins (listed in fixture.json).

expected.safetensors, per case c:
  input.<c>.pixel_values       Blip2ImageEvalProcessor(56)(Image.open(p).convert("RGB"))  [3, 56, 56]
  input.<c>.before_ids / after_ids   llama_tokenizer(chunk, add_special_tokens=False) of the prompt split at <ImageHere>
  output.<c>.image_embeds      ln_vision(visual_encoder(pixels)) [1, 17, 32]
  output.<c>.query_output      Qformer.bert(query_embeds=query_tokens, ...).last_hidden_state [1, 32, 32]
  output.<c>.inputs_llama      encode_img(pixels)[0] (llama_proj of the query output) [1, 32, 64]
  output.<c>.generated_ids     greedy ids, 32 new tokens
  output.<c>.logits            llama_model(inputs_embeds=[BOS, before, queries, after, generated[:-1]]).logits[0],
                               its last 40 rows (the prompt's last 9 positions and the 31 teacher-forced ones)

usage: PYTHONPATH=.venv/reference-tokenizers .venv/bin/python tests/oracles/models/make_xraygpt_fixtures.py \
         --medvlmbench PATH_TO_MedVLMBench      (a clone or a bare git directory)
"""
import argparse
import functools
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is built here; never reach a hub

import torch  # noqa: E402
# Imported before the stand-ins below: transformers probes for cv2 at import time.
import transformers  # noqa: E402,F401
import transformers.modeling_utils  # noqa: E402,F401
import torchvision  # noqa: E402,F401
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import fixture_io  # noqa: E402
import tiny_weights  # noqa: E402

SRC = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(SRC, "tests", "fixtures", "models", "xraygpt")
GENERATOR = "tests/oracles/models/make_xraygpt_fixtures.py"
NEW_TOKENS = 32
LOGIT_ROWS = 40  # the last prompt positions and every generated one: the file stays small
IMAGE_SIZE, PATCH = 56, 14
EVA = dict(embed_dim=32, depth=2, num_heads=2)  # create_eva_vit_g keeps mlp_ratio 4.3637 -> fc1 139
QFORMER = dict(vocab_size=64, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
               max_position_embeddings=64, layer_norm_eps=1e-12, hidden_act="gelu")
LLAMA = dict(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=4, max_position_embeddings=256, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2,
             pad_token_id=0, tie_word_embeddings=False, hidden_act="silu")
IMAGES = {
    "xray": "tests/fixtures/demo/ChestXray/test/PNEUMONIA/pneumonia_test_00.png",
    "wide": "tests/fixtures/models/qwen2_vl_images/wide_190x60.png",
}
CASES = [("vqa", "wide", "Is there evidence of pneumonia in the left lung?"),
         ("caption", "xray", "Can you provide a medical report for this image?")]
# Strings through the wrapper's clean-up, output.split('###')[0].split('Doctor:')[-1].strip().
# What tests/models/xraygpt_test.cpp measured ("[measured]" lines; LibTorch 1.13, CPU, fp32); pixel values,
# prompt ids, greedy ids and answers identical.
MEASURED = {"logits": 1.34e-5, "inputs_llama": 2.15e-6, "pixel_values": 0.0}
CLEANUP = ["  The lungs are clear.###Patient: next", "Doctor: No effusion. ###", "a Doctor: b Doctor:  c  ### d",
           "no marker at all  ", "###leading", "</s>", "x</s>", " Doctor:\n"]
CORPUS = ["###Patient: <Img><ImageHere></Img> Is there evidence of pneumonia in the left lung?###Doctor:",
          "###Patient: <Img><ImageHere></Img> Can you provide a medical report for this image?###Doctor:",
          "The heart size is normal. There is no pleural effusion or pneumothorax. The lungs are clear.",
          "Findings: no acute cardiopulmonary process. Impression: normal chest x-ray. 12 mm nodule.",
          "A chat between a patient and an experienced Doctor. yes no left right lung liver kidney brain"]


def spm_model(path):
    """A 320-piece BPE SentencePiece model with LLaMA's settings (byte fallback, digits split, dummy
    prefix, identity normalisation; unk 0, bos 1, eos 2), trained here."""
    import sentencepiece as spm
    d = os.path.join(tempfile.gettempdir(), "mvb_xraygpt_spm")  # fixed: the model stores its paths
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    corpus = os.path.join(d, "corpus.txt")
    with open(corpus, "w") as f:
        f.write("\n".join(CORPUS * 4) + "\n")
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=os.path.join(d, "m"), vocab_size=LLAMA["vocab_size"], model_type="bpe",
        byte_fallback=True, split_digits=True, add_dummy_prefix=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1,
        character_coverage=1.0, minloglevel=2)
    shutil.copy(os.path.join(d, "m.model"), path)
    shutil.rmtree(d)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def redraw(named, seed, big_embed=()):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in named:
            if not p.is_floating_point():
                continue
            if "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1.0 + torch.randn(p.shape, generator=g) * 0.1)
            elif name.endswith("bias") or p.dim() == 1:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif any(b in name for b in big_embed):
                p.copy_(torch.randn(p.shape, generator=g) * 1.0)
            elif "embed" in name or "token" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * p[0].numel() ** -0.5)


# ---------------------------------------------------------------- the reference's code
def extract(repo, dest):
    git_dir = os.path.join(repo, ".git") if os.path.isdir(os.path.join(repo, ".git")) else repo
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    archive = subprocess.run(["git", "--git-dir", git_dir, "archive", commit, "model/release/xraygpt",
                              "model/xraygpt.py"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "x", "-C", dest], input=archive, check=True)
    # model/__init__.py imports every wrapper of the benchmark (and their libraries); the package is
    # entered through empty __init__ files instead.
    for p in ("model/__init__.py", "model/release/__init__.py"):
        open(os.path.join(dest, p), "w").close()
    return commit


STAND_INS = {
    "omegaconf": "OmegaConf (imported by the config / processor registry code, unused by inference)",
    "iopath.common.download, iopath.common.file_io": "download / g_pathmgr (common/utils.py, for URLs; unused)",
    "cv2": "RandomAugment (training augmentation only)",
    "model.chat.ChatMetaModel": "the wrapper's base: stores args (device cpu)",
    "model.clip_base.ImageProcessorCallable": "keeps the Blip2ImageEvalProcessor (applied here directly)",
    "model.lp_base.LPModel, model.lora_base.LoRALPModel": "placeholders (diagnosis wrappers, not run)",
}


def install_stand_ins():
    def mod(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    mod("omegaconf", OmegaConf=type("OmegaConf", (), {}))
    mod("iopath")
    mod("iopath.common")
    mod("iopath.common.download", download=None)
    mod("iopath.common.file_io", file_lock=None, g_pathmgr=None)
    mod("cv2")

    class ChatMetaModel:
        def __init__(self, args=None):
            self.args = args

    class ImageProcessorCallable:
        def __init__(self, processor, transform_func=None):
            self.image_processor = processor

    class Placeholder:
        def __init__(self, *a, **k):
            raise RuntimeError("placeholder")

    import model  # the extracted package
    mod("model.chat", ChatMetaModel=ChatMetaModel)
    mod("model.clip_base", ImageProcessorCallable=ImageProcessorCallable)
    mod("model.lp_base", LPModel=Placeholder)
    mod("model.lora_base", LoRALPModel=Placeholder)
    del model


def patch_sizes(files):
    """Size-only patches: the tiny EVA, the bert-base config, 56 px; downloads -> the local files."""
    eva = importlib.import_module("model.release.xraygpt.models.eva_vit")
    blip2 = importlib.import_module("model.release.xraygpt.models.blip2")
    xr = importlib.import_module("model.xraygpt")

    def local(url, check_hash=True, progress=False):
        return files[os.path.basename(url)]

    eva.download_cached_file = local
    blip2.download_cached_file = local
    # create_eva_vit_g(...) builds VisionTransformer(embed_dim=1408, depth=39, num_heads=16, mlp_ratio=4.3637 ...)
    real_vit = eva.VisionTransformer
    eva.VisionTransformer = lambda **kw: real_vit(**{**kw, **EVA})

    class TinyBertConfig(transformers.BertConfig):
        @classmethod
        def from_pretrained(cls, name, **kw):
            assert name == "bert-base-uncased", name
            return transformers.BertConfig(**QFORMER)

    blip2.BertConfig = TinyBertConfig

    class TinyBertTokenizer:  # init_tokenizer's bert-base-uncased tokenizer (unused by inference)
        @classmethod
        def from_pretrained(cls, name):
            tok = transformers.BertTokenizer(vocab_file=files["vocab.txt"])
            return tok

    blip2.BertTokenizer = TinyBertTokenizer
    real_minigpt4 = xr.MiniGPT4
    xr.MiniGPT4 = lambda **kw: real_minigpt4(**{**kw, "img_size": IMAGE_SIZE})
    real_proc = xr.Blip2ImageEvalProcessor
    xr.Blip2ImageEvalProcessor = lambda: real_proc(image_size=IMAGE_SIZE)
    return xr, eva, blip2


# ---------------------------------------------------------------- the checkpoint files
def make_files(out, scratch, eva_mod, blip2_mod):
    files = {}
    # eva_vit_g.pth: a bare EVA state dict (LAVIS stores it in fp16).
    torch.manual_seed(0)
    vit = eva_mod.VisionTransformer(img_size=IMAGE_SIZE, patch_size=PATCH, use_mean_pooling=False, mlp_ratio=4.3637,
                                    qkv_bias=True, norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6))
    redraw(vit.named_parameters(), 1)
    files["eva_vit_g.pth"] = os.path.join(out, "eva_vit_g.pth")
    torch.save({k: v.half() for k, v in vit.state_dict().items()}, files["eva_vit_g.pth"])

    # blip2_pretrained_flant5xxl.pth: LAVIS Blip2Qformer's saved trainable state (no visual_encoder).
    qformer, query_tokens = blip2_mod.Blip2Base.init_Qformer(32, EVA["embed_dim"])
    ln_vision = torch.nn.LayerNorm(EVA["embed_dim"])
    sd = {"Qformer." + k: v for k, v in qformer.state_dict().items()}
    sd["query_tokens"] = query_tokens.data
    sd.update({"ln_vision." + k: v for k, v in ln_vision.state_dict().items()})
    sd.update({"vision_proj.weight": torch.empty(16, 32), "vision_proj.bias": torch.empty(16),
               "text_proj.weight": torch.empty(16, 32), "text_proj.bias": torch.empty(16),
               "itm_head.weight": torch.empty(2, 32), "itm_head.bias": torch.empty(2), "temp": torch.tensor(0.07)})
    redraw([(k, v) for k, v in sd.items() if k != "temp"], 2)
    files["blip2_pretrained_flant5xxl.pth"] = os.path.join(out, "blip2_pretrained_flant5xxl.pth")
    torch.save({"model": sd}, files["blip2_pretrained_flant5xxl.pth"])

    # Vicuna_Radiology_fp16: LlamaForCausalLM in fp16, .bin shards, slow tokenizer files.
    vic = os.path.join(out, "Vicuna_Radiology_fp16")
    os.makedirs(vic)
    from transformers import LlamaConfig, LlamaForCausalLM
    llm = LlamaForCausalLM(LlamaConfig(**LLAMA)).eval()
    redraw(llm.named_parameters(), 7, big_embed=("embed_tokens", "lm_head"))
    llm.half().save_pretrained(vic, safe_serialization=False, max_shard_size="200KB")
    spm_model(os.path.join(vic, "tokenizer.model"))
    write_json(os.path.join(vic, "tokenizer_config.json"),
               {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                "unk_token": "<unk>", "pad_token": None, "clean_up_tokenization_spaces": False,
                "model_max_length": 2048, "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer"})
    write_json(os.path.join(vic, "special_tokens_map.json"),
               {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})

    # xraygpt_pretrained1.pth: the stage-2 MiniGPT-4 checkpoint (only llama_proj is trained), with the
    # siblings MiniGPT-4's runner saves beside "model".
    proj = torch.nn.Linear(QFORMER["hidden_size"], LLAMA["hidden_size"])
    redraw(proj.named_parameters(), 4)
    opt = torch.optim.AdamW(proj.parameters(), lr=1e-4)
    proj(torch.zeros(1, QFORMER["hidden_size"])).sum().backward()
    opt.step()
    redraw(proj.named_parameters(), 4)
    files["xraygpt_pretrained1.pth"] = os.path.join(out, "xraygpt_pretrained1.pth")
    torch.save({"model": {"llama_proj." + k: v for k, v in proj.state_dict().items()},
                "optimizer": opt.state_dict(), "config": {"model": {"arch": "mini_gpt4", "num_query_token": 32}},
                "scaler": None, "epoch": 3}, files["xraygpt_pretrained1.pth"])

    files["vocab.txt"] = os.path.join(scratch, "vocab.txt")
    with open(files["vocab.txt"], "w") as f:
        f.write("\n".join(tiny_weights.BERT_VOCAB) + "\n")
    # Our own file: the sizes the reference hard-codes (absent = the published XrayGPT's).
    write_json(os.path.join(out, "xraygpt_config.json"), {
        "image_size": IMAGE_SIZE,
        "vision": {"hidden_size": EVA["embed_dim"], "num_hidden_layers": EVA["depth"],
                   "num_attention_heads": EVA["num_heads"], "intermediate_size": int(EVA["embed_dim"] * 4.3637),
                   "patch_size": PATCH},
        "qformer": {k: QFORMER[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                            "intermediate_size")},
        "num_query_token": 32})
    return files


def greedy(model, embeds, mask, n):
    """transformers' generate(do_sample=False) semantics on the vendored LlamaForCausalLM: argmax of the
    last position, fed back, without a cache (a cached run is compared against it below)."""
    ids = []
    x = embeds
    with torch.no_grad():
        for _ in range(n):
            logits = model(inputs_embeds=x, attention_mask=torch.ones(x.shape[:2], dtype=torch.long)).logits
            t = int(logits[0, -1].argmax())
            ids.append(t)
            x = torch.cat([x, model.model.embed_tokens(torch.tensor([[t]]))], dim=1)
    return torch.tensor([ids])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--medvlmbench", required=True, help="a clone (or bare git dir) of ubc-tea/MedVLMBench")
    args = ap.parse_args()
    assert transformers.__version__ == "4.53.1", (
        f"transformers {transformers.__version__}: run with PYTHONPATH=.venv/reference-tokenizers (the "
        "reference's 4.53.1; the vendored MiniGPT-4 imports helpers transformers 5 removed)")
    scratch = tempfile.mkdtemp(prefix="mvb_xraygpt_")
    commit = extract(args.medvlmbench, scratch)
    sys.path.insert(0, scratch)
    install_stand_ins()
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    files = {}
    xr, eva, blip2 = patch_sizes(files)
    files.update(make_files(OUT, scratch, eva, blip2))

    # The wrapper reads ./pretrained_models/{Vicuna_Radiology_fp16, xraygpt_pretrained1.pth} and
    # ./model/release/xraygpt/prompts/alignment.txt relative to the working directory.
    os.symlink(OUT, os.path.join(scratch, "pretrained_models"))
    cwd = os.getcwd()
    os.chdir(scratch)
    try:
        torch.manual_seed(5)
        model = xr.XrayGPT(types.SimpleNamespace(device="cpu"))
    finally:
        os.chdir(cwd)
    model.model.float().eval()  # the oracle runs in float32 (the LLM was loaded in fp16, as stored)
    # The wrapper's second crash: prompt_wrap(img_embeds, None, prompt) subscripts the None mask
    # (atts_img[:, :1]); the mask it would build is all ones and the wrapper discards it.
    real_wrap = model.model.prompt_wrap
    model.model.prompt_wrap = lambda e, a, p: real_wrap(
        e, a if a is not None else torch.ones(e.shape[:-1], dtype=torch.long), p)
    tok = model.model.llama_tokenizer
    llm = model.model.llama_model

    inputs_t, outputs_t, cases = {}, {}, {}
    for name, key, question in CASES:
        pixels = model.processor(Image.open(os.path.join(SRC, IMAGES[key])).convert("RGB"))
        assert pixels.dim() == 3  # what the reference's DataLoader (batch_size 1, collate b[0]) hands over
        seen = {}

        def fake_generate(**kw):
            seen.update(kw)
            return greedy(llm, kw["inputs_embeds"], kw["attention_mask"], NEW_TOKENS)

        llm.generate = fake_generate
        with torch.no_grad():
            answer = model.infer_vision_language(pixels.unsqueeze(0), question)  # the batch-dim fix
            img = pixels.unsqueeze(0)
            vis = model.model.ln_vision(model.model.visual_encoder(img))
            q = model.model.Qformer.bert(query_embeds=model.model.query_tokens.expand(1, -1, -1),
                                         encoder_hidden_states=vis,
                                         encoder_attention_mask=torch.ones(vis.shape[:-1], dtype=torch.long),
                                         return_dict=True).last_hidden_state
            inputs_llama, _ = model.model.encode_img(img)
        del llm.generate
        prompt = f"###Patient: <Img><ImageHere></Img> {question}###Doctor:"
        before, after = prompt.split("<ImageHere>")
        b_ids = tok(before, return_tensors="pt", add_special_tokens=False).input_ids
        a_ids = tok(after, return_tensors="pt", add_special_tokens=False).input_ids
        gen = greedy(llm, seen["inputs_embeds"], seen["attention_mask"], NEW_TOKENS)
        # transformers' own generate() over the vendored LlamaForCausalLM: since transformers 4.50 a
        # PreTrainedModel no longer inherits GenerationMixin, so under the reference's pinned 4.53.1 the
        # wrapper's llama_model.generate(...) raises AttributeError; GenerationMixin is mixed in here.
        cls = type(llm)
        llm.__class__ = type("VendoredLlamaWithGenerate", (cls, transformers.GenerationMixin), {})
        if llm.generation_config is None:  # from_pretrained leaves it unset for a class without generate()
            llm.generation_config = transformers.GenerationConfig.from_model_config(llm.config)
        with torch.no_grad():
            hf = llm.generate(inputs_embeds=seen["inputs_embeds"], attention_mask=seen["attention_mask"],
                              max_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1,
                              eos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)
        llm.__class__ = cls
        assert torch.equal(hf, gen), f"{name}: generate(do_sample=False) {hf.tolist()} != argmax loop {gen.tolist()}"
        with torch.no_grad():
            emb = llm.model.embed_tokens
            rebuilt = torch.cat([emb(torch.tensor([[tok.bos_token_id]])), emb(b_ids), inputs_llama, emb(a_ids)], 1)
            assert torch.equal(rebuilt, seen["inputs_embeds"]), "prompt ids do not rebuild the reference's embeddings"
            full = torch.cat([seen["inputs_embeds"], emb(gen[:, :-1])], 1)
            logits = llm(inputs_embeds=full, attention_mask=torch.ones(full.shape[:2], dtype=torch.long)).logits[0]
        assert (gen != LLAMA["eos_token_id"]).all(), f"{name}: EOS before {NEW_TOKENS} tokens; change a seed"
        assert torch.equal(logits[-NEW_TOKENS:].argmax(-1), gen[0]), "teacher-forced argmax differs from greedy"
        kwargs = {k: v for k, v in seen.items() if k not in ("inputs_embeds", "attention_mask")}
        print(name, "prompt", b_ids.tolist(), a_ids.tolist(), "gen", gen.tolist(), repr(answer))
        inputs_t.update({f"{name}.pixel_values": pixels, f"{name}.before_ids": b_ids[0],
                         f"{name}.after_ids": a_ids[0]})
        outputs_t.update({f"{name}.image_embeds": vis, f"{name}.query_output": q,
                          f"{name}.inputs_llama": inputs_llama, f"{name}.generated_ids": gen[0],
                          f"{name}.logits": logits[-LOGIT_ROWS:]})
        cases[name] = {"image": IMAGES[key], "question": question, "prompt": prompt, "answer": answer,
                       "raw_decoded": tok.decode(gen[0], add_special_tokens=False),
                       "prompt_positions": int(seen["inputs_embeds"].shape[1]), "reference_generate_kwargs": kwargs}
    fixture_io.save_expected(OUT, inputs_t, outputs_t)
    cleanup = [[s, s.split('###')[0].split('Doctor:')[-1].strip()] for s in CLEANUP]
    fixture_io.write_fixture_json(
        OUT, generator=GENERATOR, library=fixture_io.versions("transformers", "torchvision", "timm", "sentencepiece",
                                                              "pillow"),
        published_code={"repo": "github.com/ubc-tea/MedVLMBench", "commit": commit,
                        "files": ["model/xraygpt.py", "model/release/xraygpt/ (MiniGPT-4: mini_gpt4.py, blip2.py, "
                                  "eva_vit.py, Qformer.py, modeling_llama.py, processors/blip_processors.py)"]},
        oracle="model/xraygpt.py XrayGPT(args(device='cpu')) built from this folder as ./pretrained_models, then "
               ".model.float(); per case infer_vision_language(Blip2ImageEvalProcessor(56)(image).unsqueeze(0), q) "
               "with llama_model.generate intercepted (inputs recorded, greedy ids: argmax loop over the vendored "
               "LlamaForCausalLM without cache, equal to GenerationMixin.generate(do_sample=False, max_new_tokens=32) with "
               "its KV cache, GenerationMixin mixed into the vendored class); logits = llama_model(inputs_embeds=recorded + embed(greedy[:-1])).logits[0][-40:]; "
               "image_embeds = ln_vision(visual_encoder(x)); query_output = Qformer.bert(query_embeds=query_tokens, "
               "encoder_hidden_states=image_embeds); inputs_llama = encode_img(x)[0]",
        patched="sizes only: eva_vit.VisionTransformer(embed_dim=32, depth=2, num_heads=2) inside the real "
                "create_eva_vit_g; BertConfig.from_pretrained('bert-base-uncased') -> the tiny config; MiniGPT4(img_size=56) "
                "and Blip2ImageEvalProcessor(image_size=56); download_cached_file -> the files here; BertTokenizer "
                "(init_tokenizer, unused by inference) -> a tiny vocab",
        stand_ins=STAND_INS,
        fixed_quirks=["the reference passes a 3-D pixel tensor to encode_img (every sample raises in PatchEmbed): "
                      "the oracle adds the batch dimension",
                      "infer_vision_language calls prompt_wrap(img_embeds, None, prompt), which raises on None[:, :1]: "
                      "the oracle hands prompt_wrap an all-ones mask (its mask output is discarded by the wrapper)",
                      "under the reference's pinned transformers 4.53.1 the vendored LlamaForCausalLM has no generate() "
                      "(PreTrainedModel stopped inheriting GenerationMixin in 4.50): the wrapper's llama_model.generate "
                      "raises AttributeError; the oracle mixes GenerationMixin in for the greedy cross-check"],
        cleanup_cases=cleanup, cases=cases, weights="seeded random (torch.Generator), float32 except eva_vit_g.pth "
                                                    "and the Vicuna folder (fp16 as published)",
        max_abs_diff_measured=MEASURED,
        tolerance={"logits_fp32": 1e-4, "image_embeds_query_output_inputs_llama_fp32": 1e-4, "pixel_values": "exact", "prompt_ids": "exact", "generated_ids": "exact"})
    shutil.rmtree(scratch)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
