"""Live tokenizer oracle for tests/text: the real Hugging Face libraries encode, decode, pad and render
chat templates so the C++ tokenizers can be compared id for id and string for string.

usage: python hf_tokenizers_oracle.py <request.json>      (prints one JSON object on stdout)

Two runtimes, one per request (they cannot share a process: each imports its own `tokenizers`):
  "reference"   transformers 4.53.1 + tokenizers 0.21.2, the versions MedVLMBench pins, loaded from
                <venv>/reference-tokenizers (tests/oracles/text/requirements-reference-tokenizers.txt).
                Its tokenizer classes are the ones the reference's models load: AutoTokenizer with
                use_fast=True or False, LlamaTokenizer (slow, SentencePiece), BertTokenizer(Fast),
                CLIPTokenizerFast, Qwen2Tokenizer ..., and tokenizer.apply_chat_template.
  "tokenizers"  the venv's own `tokenizers` package (Rust library) on a tokenizer.json as given, for
                pipelines assembled in the tests.

request: {"runtime": "reference" | "tokenizers", "jobs": [job, ...]}
job:     {"load": LOAD, "add_special": [token, ...], "texts": [...], "decode": [[id, ...], ...],
          "batch": [PAD, ...], "chat": [CHAT, ...], "llava": [prompt, ...], "save": dir}
ADD_SPECIAL: tokenizer.add_special_tokens({"additional_special_tokens": [...]}) right after loading
DECODE:  id lists decoded with skip_special_tokens False / True and spaces_between_special_tokens True / False
LOAD (reference):  {"auto": folder, "use_fast": bool, "kwargs": {...}}        AutoTokenizer.from_pretrained
                   {"class": "BertTokenizerFast", "folder": dir, "kwargs": {...}}   <class>.from_pretrained
                   {"class": "BertTokenizerFast", "files": {"vocab_file": path}, "kwargs": {...}}  <class>(...)
LOAD (tokenizers): {"file": "tokenizer.json"} | {"json": "<tokenizer.json text>"}
PAD:     {"max_length": N or null, "padding": "longest" | "max_length", "side": "left" | "right",
          "pad_token": str or null}  ->  tokenizer(texts, padding=..., truncation=..., max_length=N)
CHAT:    {"messages": [...], "chat_template": str or null, "add_generation_prompt": bool,
          "expand": {old: new, ...} or [[old, new], ...]}
         -> tokenizer.apply_chat_template(messages, tokenize=False, ...) and its ids; the text after the
            processor's placeholder expansion and the ids the processor's tokenizer call gives
LLAVA:   a prompt holding "<image>": the reference's tokenizer_image_token() (llava/mm_utils.py: each
         chunk tokenized with special tokens, the later chunks' BOS dropped, -200 between)
stdout:  {"versions": {...}, "jobs": [{"class", "is_fast", "vocab_size", "special", "config",
          "all_special_tokens", "all_special_ids",
          "results": [{"ids", "ids_plain", "decoded", "decoded_skip"}],
          "decode": [{"decoded", "decoded_skip", "decoded_nospace", "decoded_skip_nospace"}], "batch": [{"input_ids",
          "attention_mask"}], "chat": [{"text", "ids", "expanded", "processor_ids"}], "llava": [[ids]]}]}
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tokenizers need no deep-learning framework; keeping torch out saves seconds per call.
os.environ.setdefault("USE_TORCH", "0")
os.environ.setdefault("USE_TF", "0")
os.environ.setdefault("USE_FLAX", "0")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REQUIREMENTS = "tests/oracles/text/requirements-reference-tokenizers.txt"


def reference_path():
    return os.environ.get("MVB_REFERENCE_TOKENIZERS") or os.path.join(sys.prefix, "reference-tokenizers")


def fail(code, message):
    sys.stderr.write(message.rstrip() + "\n")
    sys.exit(code)


def use_reference_runtime():
    path = reference_path()
    if not os.path.isdir(os.path.join(path, "transformers")):
        fail(3, f"the reference tokenizer stack is missing ({path}): install it with "
                f"`{sys.executable} -m pip install --no-deps --target {path} -r {REQUIREMENTS}` "
                f"(bash scripts/oracle_env.sh does this)")
    sys.path.insert(0, path)
    import tokenizers
    import transformers

    if transformers.__version__ != "4.53.1" or tokenizers.__version__ != "0.21.2":
        fail(3, f"{path} holds transformers {transformers.__version__} / tokenizers {tokenizers.__version__}, "
                f"not the pinned 4.53.1 / 0.21.2: reinstall it from {REQUIREMENTS}")
    return transformers


def load_reference(transformers, spec):
    kwargs = dict(spec.get("kwargs") or {})
    if "auto" in spec:
        return transformers.AutoTokenizer.from_pretrained(spec["auto"], use_fast=spec.get("use_fast", True), **kwargs)
    cls = getattr(transformers, spec["class"])
    if "folder" in spec:
        return cls.from_pretrained(spec["folder"], **kwargs)
    return cls(**spec.get("files", {}), **kwargs)


SPECIAL_NAMES = ["bos", "eos", "pad", "unk", "cls", "sep", "mask"]


def describe_reference(tok):
    special = {}
    for name in SPECIAL_NAMES:
        content = tok.special_tokens_map.get(f"{name}_token")
        if content is not None:
            special[name] = [str(content), tok.convert_tokens_to_ids(str(content))]
    config = {
        "padding_side": tok.padding_side,
        "model_max_length": tok.model_max_length if tok.model_max_length < 2**62 else None,
        "clean_up_tokenization_spaces": bool(tok.clean_up_tokenization_spaces),
        "legacy": getattr(tok, "legacy", None),
        "add_bos_token": getattr(tok, "add_bos_token", None),
        "add_eos_token": getattr(tok, "add_eos_token", None),
    }
    return {"class": type(tok).__name__, "is_fast": bool(tok.is_fast), "vocab_size": len(tok),
            "special": special, "config": config}


def run_reference_job(transformers, job):
    tok = load_reference(transformers, job["load"])
    if job.get("add_special"):
        tok.add_special_tokens({"additional_special_tokens": job["add_special"]})
    out = describe_reference(tok)
    out["all_special_tokens"] = tok.all_special_tokens
    out["all_special_ids"] = tok.all_special_ids
    results = []
    for text in job.get("texts", []):
        ids = tok(text)["input_ids"]
        results.append({
            "ids": ids,
            "ids_plain": tok(text, add_special_tokens=False)["input_ids"],
            "decoded": tok.decode(ids),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True),
        })
    out["results"] = results
    out["decode"] = [{"decoded": tok.decode(ids), "decoded_skip": tok.decode(ids, skip_special_tokens=True),
                      "decoded_nospace": tok.decode(ids, spaces_between_special_tokens=False),
                      "decoded_skip_nospace": tok.decode(ids, skip_special_tokens=True,
                                                         spaces_between_special_tokens=False)}
                     for ids in job.get("decode", [])]
    batches = []
    for pad in job.get("batch", []):
        if pad.get("pad_token") is not None:
            tok.pad_token = pad["pad_token"]
        tok.padding_side = pad.get("side", "right")
        max_length = pad.get("max_length")
        enc = tok(pad.get("texts", job.get("texts", [])), padding=pad.get("padding", "longest"),
                  truncation=max_length is not None, max_length=max_length)
        batches.append({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})
    out["batch"] = batches
    chats = []
    for chat in job.get("chat", []):
        text = tok.apply_chat_template(chat["messages"], chat_template=chat.get("chat_template"), tokenize=False,
                                       add_generation_prompt=chat.get("add_generation_prompt", True))
        # apply_chat_template(tokenize=True) tokenizes without adding special tokens.
        ids = tok.apply_chat_template(chat["messages"], chat_template=chat.get("chat_template"), tokenize=True,
                                      add_generation_prompt=chat.get("add_generation_prompt", True))
        # The processor's placeholder expansion (Gemma3Processor, Qwen2VLProcessor, InternVLProcessor
        # replace one image token by the full run), given as string replacements; then the processor's
        # tokenizer call: ProcessorMixin.apply_chat_template(tokenize=True) passes add_special_tokens=False
        # when the rendered text already starts with the BOS token.
        expanded = text
        expand = chat.get("expand") or []
        for old, new in expand.items() if isinstance(expand, dict) else expand:
            expanded = expanded.replace(old, new)
        add_special = not (tok.bos_token is not None and expanded.startswith(tok.bos_token))
        chats.append({"text": text, "ids": ids, "expanded": expanded,
                      "processor_ids": tok(expanded, add_special_tokens=add_special)["input_ids"],
                      "processor_add_special_tokens": add_special})
    out["chat"] = chats
    # LLaVA's tokenizer_image_token(prompt, tokenizer, IMAGE_TOKEN_INDEX=-200), restated from
    # llava/mm_utils.py: chunks tokenized with the tokenizer's special tokens, one leading BOS kept.
    llava = []
    for prompt in job.get("llava", []):
        chunks = [tok(chunk).input_ids for chunk in prompt.split("<image>")]
        ids, offset = [], 0
        if chunks and chunks[0] and chunks[0][0] == tok.bos_token_id:
            offset = 1
            ids.append(chunks[0][0])
        sep = [-200] * (offset + 1)
        merged = [e for pair in zip(chunks, [sep] * len(chunks)) for e in pair][:-1]
        for x in merged:
            ids.extend(x[offset:])
        llava.append(ids)
    out["llava"] = llava
    if job.get("save"):
        tok.save_pretrained(job["save"])
    return out


def run_tokenizers_job(job):
    import tokenizers

    spec = job["load"]
    tok = tokenizers.Tokenizer.from_file(spec["file"]) if "file" in spec else tokenizers.Tokenizer.from_str(spec["json"])
    results = []
    for text in job.get("texts", []):
        ids = tok.encode(text, add_special_tokens=True).ids
        results.append({
            "ids": ids,
            "ids_plain": tok.encode(text, add_special_tokens=False).ids,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True),
        })
    out = {"class": "tokenizers.Tokenizer", "is_fast": True, "vocab_size": tok.get_vocab_size(with_added_tokens=True),
           "results": results}
    if job.get("save"):
        tok.save(job["save"])
    return out


def main():
    if len(sys.argv) != 2:
        fail(2, "usage: hf_tokenizers_oracle.py <request.json>")
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    runtime = request.get("runtime", "reference")
    if runtime == "reference":
        transformers = use_reference_runtime()
        import tokenizers

        versions = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}
        jobs = [run_reference_job(transformers, job) for job in request["jobs"]]
    elif runtime == "tokenizers":
        import tokenizers

        versions = {"tokenizers": tokenizers.__version__}
        jobs = [run_tokenizers_job(job) for job in request["jobs"]]
    else:
        fail(2, f"unknown runtime {runtime!r}")
    # ensure_ascii keeps lone surrogates and control characters safe for the C++ JSON reader.
    sys.stdout.write(json.dumps({"versions": versions, "jobs": jobs}, ensure_ascii=True))


if __name__ == "__main__":
    main()
