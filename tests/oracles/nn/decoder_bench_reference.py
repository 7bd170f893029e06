#!/usr/bin/env python3
"""transformers' side of bench/decoder_bench.cpp (run with the oracle environment).

  decoder_bench_reference.py make DIR             random LlamaForCausalLM (~90M parameters) -> DIR (save_pretrained)
  decoder_bench_reference.py time DIR REQ OUT     REQ {prompt: [ids], new_tokens, threads, repeats} ->
                                                  OUT {prefill_s, decode_token_s, generate_s, ids}

Times are the best of `repeats` runs: prefill of the prompt at batch 1, then greedy decoding one token at
a time over transformers' DynamicCache (what generate() does, without its per-step bookkeeping), and one
model.generate(do_sample=False) call as the reference runs it.
"""
import json
import os
import sys
import time

import torch


def make(folder):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=8000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                         num_attention_heads=12, num_key_value_heads=4, max_position_embeddings=2048,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            elif "embed_tokens" in name:
                p.normal_(0, 1)
            else:
                p.normal_(0, p.shape[1] ** -0.5)
    model.save_pretrained(folder)


def timed(req, folder, out):
    from transformers import DynamicCache, LlamaForCausalLM
    torch.set_num_threads(req["threads"])
    model = LlamaForCausalLM.from_pretrained(folder).eval()  # default attention (sdpa), as generate() runs it
    ids = torch.tensor([req["prompt"]], dtype=torch.long)
    n = req["new_tokens"]
    best = {"prefill_s": float("inf"), "decode_token_s": float("inf"), "generate_s": float("inf")}
    tokens = []
    with torch.inference_mode():
        for _ in range(req["repeats"]):
            cache = DynamicCache(config=model.config)
            t0 = time.perf_counter()
            logits = model(input_ids=ids, past_key_values=cache, use_cache=True).logits[:, -1]
            t1 = time.perf_counter()
            tokens = []
            for _ in range(n):
                nxt = logits.argmax(-1, keepdim=True)
                tokens.append(int(nxt))
                logits = model(input_ids=nxt, past_key_values=cache, use_cache=True).logits[:, -1]
            t2 = time.perf_counter()
            best["prefill_s"] = min(best["prefill_s"], t1 - t0)
            best["decode_token_s"] = min(best["decode_token_s"], (t2 - t1) / n)
            t0 = time.perf_counter()
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                           do_sample=False, pad_token_id=0)
            best["generate_s"] = min(best["generate_s"], time.perf_counter() - t0)
    best["ids"] = tokens
    with open(out, "w") as f:
        json.dump(best, f)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        timed(json.load(open(sys.argv[3])), sys.argv[2], sys.argv[4])
