"""The reference's own LLaVA training preprocessing (train/llava_trainer.py: preprocess_multimodal +
preprocess_v1 / preprocess_llama_2 over model/release/llava/conversation.py and mm_utils.py) run on CPU
with transformers 4.53.1 on the tiny LLaVA fixture's slow tokenizer, for
tests/train/generative_lora_test.cpp (the masked labels must be the same).

Usage (the reference's source is read from a git checkout; nothing is downloaded):
  PYTHONPATH=.venv/reference-tokenizers .venv/bin/python \
      tests/oracles/train/make_llava_sft_labels_fixture.py /path/to/MedVLMBench-checkout
Only the four files named below are imported from the checkout (its package __init__ files pull in
every model); `easydict` is replaced by a dict subclass when it is not installed.
"""
import json
import os
import subprocess
import sys
import tempfile
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracles", "common"))
from fixture_io import versions, write_fixture_json  # noqa: E402

FILES = ["model/release/llava/conversation.py", "model/release/llava/mm_utils.py",
         "model/release/llava/constants.py", "train/llava_trainer.py"]

CASES = [  # (prompt as the dataset formats it, answer, --version)
    ("What organ is shown?", "Lung", "v1"),
    ("Answer the following question about the image with yes or no. Is this normal?", "yes", "v1"),
    ("Where is the abnormality located?", "In the left lower lobe, near the hilum.", "v1"),
    ("Can you provide a medical report for this image?", "No acute cardiopulmonary process.", "v1"),
    ("What organ is shown?", "Lung", "mistral_instruct"),
]


def main():
    repo = sys.argv[1]
    rev = subprocess.check_output(["git", "-C", repo, "rev-parse", "HEAD"], text=True).strip()
    tmp = tempfile.mkdtemp()
    for f in FILES:
        os.makedirs(os.path.join(tmp, os.path.dirname(f)), exist_ok=True)
        with open(os.path.join(tmp, f), "w") as out:
            out.write(subprocess.check_output(["git", "-C", repo, "show", f"{rev}:{f}"], text=True))
    for pkg in ["model", "model/release", "model/release/llava", "train"]:
        open(os.path.join(tmp, pkg, "__init__.py"), "w").close()
    sys.path.insert(0, tmp)
    try:
        import easydict  # noqa: F401
    except ImportError:
        m = types.ModuleType("easydict")

        class EasyDict(dict):
            __getattr__ = dict.__getitem__

        m.EasyDict = EasyDict
        sys.modules["easydict"] = m
    import transformers
    from easydict import EasyDict as edict
    from train import llava_trainer as lt

    model_dir = os.path.join(ROOT, "tests", "fixtures", "models", "llava", "original")
    tok = transformers.AutoTokenizer.from_pretrained(model_dir, use_fast=False, model_max_length=2048,
                                                     padding_side="right")
    tok.pad_token = tok.unk_token  # load_for_training, every --version but v0
    constants = edict(DEFAULT_IMAGE_TOKEN="<image>", DEFAULT_IM_START_TOKEN="<im_start>",
                      DEFAULT_IM_END_TOKEN="<im_end>", IGNORE_INDEX=-100, IMAGE_TOKEN_INDEX=-200)
    cases = []
    for prompt, answer, version in CASES:
        args = types.SimpleNamespace(version=version, mm_use_im_start_end=False)
        # LLaVADataset.__getitem__: the template-formatted query + "\n<image>".
        query = prompt + "\n" + constants.DEFAULT_IMAGE_TOKEN
        sources = lt.preprocess_multimodal(args, query, answer, constants)
        d = lt.preprocess(args, sources, tok, constants, has_image=True)
        cases.append({"prompt": prompt, "answer": answer, "version": version,
                      "input_ids": d["input_ids"][0].tolist(), "labels": d["labels"][0].tolist()})
    out = os.path.join(ROOT, "tests", "fixtures", "train", "llava_sft_labels")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "labels.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    write_fixture_json(out, generator="tests/oracles/train/make_llava_sft_labels_fixture.py",
                       library=versions("transformers", "tokenizers", "sentencepiece"),
                       oracle=f"Nanboy-Ronan/MedVLMBench@{rev[:7]} train/llava_trainer.py preprocess_multimodal + "
                              "preprocess (preprocess_v1 / preprocess_llama_2) with has_image=True on "
                              "tests/fixtures/models/llava/original's LlamaTokenizer (use_fast=False, "
                              "pad_token = unk_token)",
                       tolerance="exact", max_abs_diff_measured=0)
    print(f"{len(cases)} cases written to {out}")


if __name__ == "__main__":
    main()
