#!/usr/bin/env python3
"""What bench/blip_bench.cpp compares BLIP VQA against: transformers' BlipForQuestionAnswering.generate at batch 1,
one sample at a time (the reference's model/blip.py calls generate once per sample), fp32 on CPU, with the
fixture-size model (tests/fixtures/models/blip/vqa: ViT 2 x 32 at its own 32 px budget, BERT encoder and
decoder 2 x 32, vocabulary 113).

  make OUT FIXTURE_DIR
      The fixture's BlipForQuestionAnswering (from_pretrained) with the [SEP] logit's bias set to -1e4, so [SEP]
      (the answer's end) never wins and every answer is exactly max_new_tokens long on both sides, saved with
      save_pretrained to OUT together with the fixture's BlipProcessor files. Prints the parameter count.

  run OUT SAMPLES.json RESULT.json THREADS MAX_NEW_TOKENS
      SAMPLES.json: [{"image": path, "question": what our model was asked, ...}]. Per sample, timed together: PIL
      decode, BlipImageProcessorPil (the slow processor transformers 4.53 uses), the tokenizer(question,
      padding=True, truncation=True), generate(input_ids, attention_mask, pixel_values, max_new_tokens) (greedy),
      decode(skip_special_tokens=True).strip(). Also per-token decode latency at batch 1 and loading (peak RSS
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
    from transformers import BlipForQuestionAnswering
    model = BlipForQuestionAnswering.from_pretrained(fixture, dtype=torch.float32).eval()
    sep = model.config.text_config.sep_token_id
    with torch.no_grad():
        bias = model.text_decoder.cls.predictions.bias
        bias[sep] = -1e4
        dec = model.text_decoder.cls.predictions.decoder
        if dec.bias is not None and dec.bias.data_ptr() != bias.data_ptr():
            dec.bias.copy_(bias)  # untied copies (the forward reads decoder.bias)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    for f in PROCESSOR_FILES:
        shutil.copy(os.path.join(fixture, f), os.path.join(out, f))
    print(sum(p.numel() for p in model.parameters()))


def run(folder, samples_path, result_path, threads, max_new_tokens):
    from PIL import Image
    from transformers import AutoTokenizer, BlipForQuestionAnswering
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
    torch.set_num_threads(threads)
    loading = Loading(folder)
    model = BlipForQuestionAnswering.from_pretrained(folder, dtype=torch.float32).eval()
    loaded = loading.done()
    image_processor = BlipImageProcessorPil.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with open(samples_path) as f:
        samples = json.load(f)

    def one(sample, new_tokens):
        px = image_processor(Image.open(sample["image"]).convert("RGB"), return_tensors="pt")["pixel_values"]
        q = tokenizer(sample["question"], return_tensors="pt", padding=True, truncation=True)
        out = model.generate(input_ids=q["input_ids"], attention_mask=q["attention_mask"], pixel_values=px,
                             max_new_tokens=new_tokens)
        return out[0]

    answers, lengths = [], []
    with torch.no_grad():
        one(samples[0], 2)  # warm-up
        peak_first_mb = loading.peak.growth_mb()
        t0 = time.perf_counter()
        for s in samples:
            out = one(s, max_new_tokens)
            answers.append(tokenizer.decode(out, skip_special_tokens=True).strip())
            lengths.append(out.numel() - 1)  # the [DEC] start token is not generated
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
