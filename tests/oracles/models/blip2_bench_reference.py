#!/usr/bin/env python3
"""What bench/blip2_bench.cpp compares BLIP-2 generation against: transformers' Blip2ForConditionalGeneration.generate
at batch 1, one sample at a time (the reference's model/blip2.py calls generate once per sample), fp32 on CPU, eager
attention, with the fixture-size model (tests/fixtures/models/blip2/opt: vision 2 x 32 at its own 42 px budget,
Q-Former 3 x 32 with 32 queries, OPT 2 x 32, vocabulary 283).

  make OUT FIXTURE_DIR
      The fixture's Blip2ForConditionalGeneration (from_pretrained) with the EOS row of the (tied) OPT embedding
      zeroed, so EOS's logit is 0 and in practice never the largest: answers are max_new_tokens long on both
      sides (RESULT.json's new_tokens says so), saved with save_pretrained to OUT together with the fixture's
      Blip2Processor files. Prints the parameter count.

  run OUT SAMPLES.json RESULT.json THREADS MAX_NEW_TOKENS
      SAMPLES.json: [{"image": path, "question": what our model was asked, ...}]. Per sample, timed together: PIL
      decode, Blip2Processor(images, text="Question: {q} Answer:", padding=True, truncation=True) with the slow
      PIL BlipImageProcessor (what transformers 4.53 loads), generate(**inputs, max_new_tokens) (greedy), and the
      new tokens decoded with skip_special_tokens and stripped (our default answer: the reference's string also
      echoes the prompt; GENERATIVE.md). Also per-token decode latency at batch 1 and loading (peak RSS
      growth, bytes read; tests/oracles/common/bench_support.py). Writes RESULT.json: {"samples_per_s", "seconds",
      "per_token_ms", "load_peak_rss_mb", "first_answer_peak_rss_mb", "load_read_bytes", "load_rchar",
      "parameters", "threads", "answers": [text...], "new_tokens": [count...]}.
"""
import json
import os
import shutil
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is built here; never reach a hub

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from bench_support import Loading, per_token_ms  # noqa: E402

PROCESSOR_FILES = ("processor_config.json", "tokenizer.json", "tokenizer_config.json")


def make(out, fixture):
    from transformers import Blip2ForConditionalGeneration
    model = Blip2ForConditionalGeneration.from_pretrained(fixture, dtype=torch.float32).eval()
    with torch.no_grad():
        # OPT's lm_head has no bias and is tied to the input embedding (saved once, as the checkpoint has it).
        model.language_model.get_input_embeddings().weight[model.config.text_config.eos_token_id].zero_()
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    for f in PROCESSOR_FILES:
        shutil.copy(os.path.join(fixture, f), os.path.join(out, f))
    print(sum(p.numel() for p in model.parameters()))


def run(folder, samples_path, result_path, threads, max_new_tokens):
    from PIL import Image
    from transformers import AutoImageProcessor, AutoTokenizer, Blip2ForConditionalGeneration, Blip2Processor
    torch.set_num_threads(threads)
    loading = Loading(folder)
    model = Blip2ForConditionalGeneration.from_pretrained(folder, attn_implementation="eager",
                                                          dtype=torch.float32).eval()
    loaded = loading.done()
    processor = Blip2Processor(image_processor=AutoImageProcessor.from_pretrained(folder, backend="pil"),
                               tokenizer=AutoTokenizer.from_pretrained(folder),
                               num_query_tokens=model.config.num_query_tokens)
    tokenizer = processor.tokenizer
    with open(samples_path) as f:
        samples = json.load(f)

    def one(sample, new_tokens):
        inputs = processor(images=Image.open(sample["image"]).convert("RGB"),
                           text="Question: {} Answer:".format(sample["question"]), return_tensors="pt",
                           padding=True, truncation=True)
        out = model.generate(**inputs, max_new_tokens=new_tokens)
        return out[0, inputs["input_ids"].shape[1]:]

    answers, lengths = [], []
    with torch.no_grad():
        one(samples[0], 2)  # warm-up
        peak_first_mb = loading.peak.growth_mb()
        t0 = time.perf_counter()
        for s in samples:
            out = one(s, max_new_tokens)
            answers.append(tokenizer.decode(out, skip_special_tokens=True).strip())
            lengths.append(out.numel())
        seconds = time.perf_counter() - t0
        token_ms = per_token_ms(lambda n: one(samples[0], n), max_new_tokens)
    with open(result_path, "w") as f:
        json.dump({"samples_per_s": len(samples) / seconds, "seconds": seconds, "per_token_ms": token_ms, **loaded,
                   "first_answer_peak_rss_mb": peak_first_mb,
                   "parameters": sum(p.numel() for p in model.parameters()), "threads": torch.get_num_threads(),
                   "answers": answers, "new_tokens": lengths}, f)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 7 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
