#!/usr/bin/env python3
"""What bench/gemma3_bench.cpp compares against: transformers' Gemma3ForConditionalGeneration.generate at batch 1,
one request at a time (the reference's way: model/gemma3.py calls generate once per sample), eager attention, fp32
on CPU, on a fixture checkpoint (tests/fixtures/models/gemma3: its image budget is its own 56 px / 4 tokens).

  run MODEL_DIR REQUESTS.json RESULT.json THREADS MAX_NEW_TOKENS
      REQUESTS.json: [{"images": [path...], "prompt": text}]. Per request, timed together: PIL decode,
      processor.apply_chat_template(messages [user: [image..., text]], tokenize=True, add_generation_prompt=True,
      return_dict=True), generate(do_sample=False, max_new_tokens). Writes RESULT.json {"samples_per_s",
      "seconds", "peak_rss_mb" (VmHWM of the process), "answers": [...], "threads"}.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from bench_support import status_kb  # noqa: E402


def run(model_dir, requests_path, result_path, threads, max_new_tokens):
    from transformers import AutoImageProcessor, AutoTokenizer, Gemma3ForConditionalGeneration, Gemma3Processor
    torch.set_num_threads(threads)
    with open(requests_path) as f:
        requests = json.load(f)
    with open(os.path.join(model_dir, "chat_template.json")) as f:
        template = json.load(f)["chat_template"]
    with open(os.path.join(model_dir, "processor_config.json")) as f:
        seq = json.load(f)["image_seq_length"]
    model = Gemma3ForConditionalGeneration.from_pretrained(model_dir, attn_implementation="eager",
                                                           dtype=torch.float32).eval()
    processor = Gemma3Processor(image_processor=AutoImageProcessor.from_pretrained(model_dir, backend="pil"),
                                tokenizer=AutoTokenizer.from_pretrained(model_dir), chat_template=template,
                                image_seq_length=seq)

    def one(req):
        images = [Image.open(p).convert("RGB") for p in req["images"]]
        messages = [{"role": "user", "content": [*[{"type": "image", "image": im} for im in images],
                                                 {"type": "text", "text": req["prompt"]}]}]
        inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                               return_dict=True, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        return processor.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()

    one(requests[0])  # warm-up
    t0 = time.perf_counter()
    answers = [one(r) for r in requests]
    seconds = time.perf_counter() - t0
    with open(result_path, "w") as f:
        json.dump({"samples_per_s": len(requests) / seconds, "seconds": seconds, "peak_rss_mb": status_kb("VmHWM") / 1024.0,
                   "answers": answers, "threads": threads}, f)


if __name__ == "__main__":
    if len(sys.argv) != 7 or sys.argv[1] != "run":
        sys.exit(__doc__)
    run(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
