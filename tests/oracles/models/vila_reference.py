"""The reference's vendored VILA code (ubc-tea/MedVLMBench model/release/vila at HEAD), run on the CPU in
fp32 for tests/oracles/models/make_vila_fixtures.py. Nothing of it is committed here: the files are
extracted from a clone (a work tree or bare git directory) into a temporary folder at run time.

What cannot run as written on a CPU-only machine without the reference's GPU stack is replaced, and
SHIMS lists each replacement (fixture.json records it):
- package shells for model, model.release, model.release.vila, model.release.vila.model, so their
  __init__ files (every MedVLMBench wrapper; the FP8/COAT kernels, which need triton) do not run;
- placeholder modules for imports the VILA1.5 inference path never calls (einops, deepspeed, loguru,
  s2wrapper, flash_attn, datasets, cv2): attribute access yields inert callables;
- hydra.utils.instantiate: a working equivalent for the encoder configs (imports _target_, calls it
  with the other keys and the keyword arguments);
- the vendored SiglipVisionModel.from_pretrained is asked for attn_implementation="eager" instead of
  "flash_attention_2" (the vendored file's own SiglipAttention; flash-attn needs CUDA);
- torch.Tensor.cuda is the identity (generate_content moves input_ids to CUDA);
- torch.Tensor.half is the identity while generate_content runs (it casts the pixel values to fp16 for the
  reference's fp16 model; here the whole model is fp32, so the pixels stay fp32 as ours do);
- the model is built as model/vila.py's load_from_pretrained builds it, but with torch_dtype float32
  instead of float16 (prepare_config_for_eval, LlavaLlamaModel(config), resize_token_embeddings).
"""
import importlib
import importlib.abc
import importlib.machinery
import os
import shutil
import subprocess
import sys
import tempfile
import types

PLACEHOLDER_MODULES = ["einops", "deepspeed", "loguru", "s2wrapper", "flash_attn", "datasets", "cv2"]
SHIMS = [
    "package shells for model, model.release, model.release.vila, model.release.vila.model (their __init__ files "
    "import every MedVLMBench wrapper and the FP8 kernels, none used here)",
    "placeholder modules (inert callables) for " + ", ".join(PLACEHOLDER_MODULES) + ": imported, never called on "
    "the VILA1.5 inference path",
    "hydra.utils.instantiate: imports _target_ and calls it with the remaining keys and keyword arguments",
    "vendored SiglipVisionModel.from_pretrained(attn_implementation='flash_attention_2') -> 'eager' (the "
    "vendored SiglipAttention)",
    "torch.Tensor.cuda -> identity (generate_content calls input_ids.cuda())",
    "torch.Tensor.half -> identity during generate_content (pixel values stay fp32 for the fp32 model)",
    "model/vila.py load_from_pretrained's steps with torch_dtype float32 instead of float16",
    "llava_arch.no_init_weights(_enable=True) -> transformers' no_init_weights() (4.53 dropped the _enable "
    "argument; LlavaLlamaModel.from_pretrained, the LoRA branch's base load, fails without this)",
    "LoRA branch: LlavaLlamaModel.load_pretrained(prepared fp32 config) instead of from_pretrained(model_base, "
    "config=config), which re-reads config.json and (LlavaConfig drops model_dtype) builds the base in fp16",
    "LlavaLlamaModel.prepare_inputs_for_generation = an unused placeholder: PEFT's PeftModelForCausalLM (task_type "
    "CAUSAL_LM, which the reference's adapters carry) reads it at construction, and transformers >= 4.50's "
    "PreTrainedModel no longer has it (the reference's own LoRA load fails there without this)",
]


class _Inert:
    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return _Inert()

    def __getattr__(self, name):
        return _Inert()


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in PLACEHOLDER_MODULES:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = _PlaceholderModule(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


def _instantiate(config, **kwargs):
    config = dict(config)
    module, _, attr = config.pop("_target_").rpartition(".")
    return getattr(importlib.import_module(module), attr)(**config, **kwargs)


_TMP = None
COMMIT = None


def setup(repo):
    """Extracts model/release/vila of `repo` at HEAD and installs the shims. Returns the commit."""
    global _TMP, COMMIT
    if _TMP:
        return COMMIT
    git_dir = os.path.join(repo, ".git") if os.path.isdir(os.path.join(repo, ".git")) else repo
    if not os.path.isdir(git_dir):
        sys.exit(f"{repo}: no such repository (clone ubc-tea/MedVLMBench, or pass its path with --repo)")
    COMMIT = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    _TMP = tempfile.mkdtemp(prefix="mvb_vila_ref_")
    archive = subprocess.run(["git", "--git-dir", git_dir, "archive", COMMIT, "model/release/vila"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "x", "-C", _TMP], input=archive, check=True)
    for pkg, path in [("model", "model"), ("model.release", "model/release"),
                      ("model.release.vila", "model/release/vila"),
                      ("model.release.vila.model", "model/release/vila/model")]:
        m = types.ModuleType(pkg)
        m.__path__ = [os.path.join(_TMP, path)]
        sys.modules[pkg] = m
    sys.meta_path.insert(0, _Finder())
    hydra, hydra_utils = types.ModuleType("hydra"), types.ModuleType("hydra.utils")
    hydra_utils.instantiate = _instantiate
    hydra.utils = hydra_utils
    sys.modules["hydra"], sys.modules["hydra.utils"] = hydra, hydra_utils
    import torch
    torch.Tensor.cuda = lambda self, *a, **k: self
    # What model/release/vila/model/__init__.py would export (builder.py imports it from there).
    shell = sys.modules["model.release.vila.model"]
    for sub, names in (("llava_llama", ("LlavaLlamaConfig", "LlavaLlamaModel")),
                       ("llava_topdown_llama", ("LlavaTopDownLlamaConfig", "LlavaTopDownLlamaModel"))):
        m = importlib.import_module("model.release.vila.model.language_model." + sub)
        for n in names:
            setattr(shell, n, getattr(m, n))
    shell.LlavaLlamaModel.prepare_inputs_for_generation = lambda self, *a, **k: None
    arch = importlib.import_module("model.release.vila.model.llava_arch")
    no_init = arch.no_init_weights
    arch.no_init_weights = lambda _enable=True: no_init()
    siglip = importlib.import_module("model.release.vila.model.multimodal_encoder.siglip")
    original = siglip.SiglipVisionModel.from_pretrained.__func__

    def from_pretrained(cls, *args, **kwargs):
        if kwargs.get("attn_implementation") == "flash_attention_2":
            kwargs["attn_implementation"] = "eager"
        return original(cls, *args, **kwargs)

    siglip.SiglipVisionModel.from_pretrained = classmethod(from_pretrained)
    return COMMIT


def cleanup():
    if _TMP:
        shutil.rmtree(_TMP, ignore_errors=True)


def module(name):
    return importlib.import_module("model.release.vila." + name)


def load(model_path, model_base=None):
    """model/vila.py load_from_pretrained in fp32: the plain branch, or (model_base given) the LoRA branch:
    base + non_lora_trainables.bin (keys normalised as there, load_state_dict(strict=False)) +
    PeftModel.from_pretrained + merge_and_unload. Then model.resize_token_embeddings(len(tokenizer))."""
    import torch
    from transformers import AutoConfig
    builder = module("model.builder")
    LlavaLlamaModel = module("model.language_model.llava_llama").LlavaLlamaModel
    kwargs = {"device_map": {"": "cpu"}, "torch_dtype": torch.float32}
    if model_base is None:
        config = AutoConfig.from_pretrained(model_path)
        config.resume_path = model_path
        builder.prepare_config_for_eval(config, kwargs)
        model = LlavaLlamaModel(config=config, low_cpu_mem_usage=True, **kwargs)
        unused = None
    else:
        config = AutoConfig.from_pretrained(model_base)
        builder.prepare_config_for_eval(config, kwargs)
        # model/vila.py calls LlavaLlamaModel.from_pretrained(model_base, config=config), whose load_pretrained
        # re-reads config.json: LlavaConfig drops model_dtype, so the base is built in fp16 there. The prepared
        # fp32 config goes to load_pretrained directly here (SHIMS).
        model = LlavaLlamaModel.load_pretrained(config, low_cpu_mem_usage=True, **kwargs)
        non_lora = torch.load(os.path.join(model_path, "non_lora_trainables.bin"), map_location="cpu")
        non_lora = {(k[11:] if k.startswith("base_model.") else k): v for k, v in non_lora.items()}
        if any(k.startswith("model.model.") for k in non_lora):
            non_lora = {(k[6:] if k.startswith("model.") else k): v for k, v in non_lora.items()}
        unused = model.load_state_dict(non_lora, strict=False).unexpected_keys
        from peft import PeftModel
        model = PeftModel.from_pretrained(model, model_path)
        model = model.merge_and_unload()
    model.eval()
    model.resize_token_embeddings(len(model.tokenizer))
    return model, unused


def generate_content(model, image, question):
    """VILA.infer_vision_language: model.generate_content([image, question]) with the default generation
    config. Returns (answer, input_ids [L] with the media token, pixel values [N, 3, H, W], prompt embeddings
    [L', hidden] as _embed made them, new ids)."""
    import torch
    captured = {}
    original_generate = model.generate

    def generate(input_ids=None, media=None, media_config=None, **kw):
        captured["input_ids"] = input_ids[0].clone()
        captured["pixels"] = torch.stack([m.clone() for m in media["image"]])
        embeds, _, _ = model._embed(input_ids, {k: list(v) for k, v in media.items()}, media_config, None, None)
        captured["embeds"] = embeds[0].clone()
        out = original_generate(input_ids=input_ids, media=media, media_config=media_config, **kw)
        captured["new_ids"] = out[0].clone()
        captured["generation_config"] = kw.get("generation_config")
        return out

    half = torch.Tensor.half
    model.generate = generate
    torch.Tensor.half = lambda self, *a, **k: self
    try:
        answer = model.generate_content([image, question])
    finally:
        torch.Tensor.half = half
        model.generate = original_generate
    return answer, captured
