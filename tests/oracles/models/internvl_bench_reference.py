#!/usr/bin/env python3
"""What bench/internvl_bench.cpp compares InternVL3 generation against: transformers'
InternVLForConditionalGeneration.generate at batch 1, one sample at a time (the reference's way), fp32
on CPU, on the tiny -hf fixture checkpoint (tests/fixtures/models/internvl).

  run CHECKPOINT SAMPLES.json RESULT.json THREADS MAX_NEW_TOKENS
      SAMPLES.json: [{"image": path, "prompt": the prompt our run recorded}]; the question is the text
      between the image's "</img>\\n" and "<|im_end|>". Per sample, timed together: PIL decode,
      InternVLProcessor.apply_chat_template(tokenize=True) over [image, text] (GotOcr2ImageProcessor,
      the torchvision backend = transformers 4.53.1's GotOcr2ImageProcessorFast), generate(max_new_tokens,
      the checkpoint's greedy generation_config). Writes RESULT.json: {"samples_per_s", "seconds",
      "peak_rss_mb" (VmHWM growth from before loading, /proc/self/clear_refs), "threads", "answers"}.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from bench_support import PeakRss  # noqa: E402


def main():
    if len(sys.argv) != 7 or sys.argv[1] != "run":
        sys.exit(__doc__)
    folder, samples_path, result_path, threads, max_new = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(
        sys.argv[6])
    import torch
    from PIL import Image
    from transformers import (AutoTokenizer, GotOcr2ImageProcessor, InternVLForConditionalGeneration,
                              InternVLProcessor, InternVLVideoProcessor)
    torch.set_num_threads(threads)
    peak = PeakRss()
    model = InternVLForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    with open(os.path.join(folder, "processor_config.json")) as f:
        seq = json.load(f)["image_seq_length"]
    with open(os.path.join(folder, "chat_template.json")) as f:
        template = json.load(f)["chat_template"]
    processor = InternVLProcessor(image_processor=GotOcr2ImageProcessor.from_pretrained(folder),
                                  tokenizer=AutoTokenizer.from_pretrained(folder),
                                  video_processor=InternVLVideoProcessor(), image_seq_length=seq,
                                  chat_template=template)
    with open(samples_path) as f:
        samples = json.load(f)
    answers = []
    t0 = time.perf_counter()
    for s in samples:
        p = s["prompt"]
        question = p[p.index("</img>\n") + len("</img>\n"):p.rindex("<|im_end|>")]
        messages = [{"role": "user", "content": [{"type": "image", "image": Image.open(s["image"]).convert("RGB")},
                                                 {"type": "text", "text": question}]}]
        inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                               return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=max_new)
        answers.append(processor.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    seconds = time.perf_counter() - t0
    with open(result_path, "w") as f:
        json.dump({"samples_per_s": len(samples) / seconds, "seconds": seconds,
                   "peak_rss_mb": peak.growth_mb(), "threads": torch.get_num_threads(),
                   "answers": answers}, f)


if __name__ == "__main__":
    main()
