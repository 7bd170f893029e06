#!/usr/bin/env python3
"""transformers' generate() on tiny random decoder-only checkpoints, for tests/nn/generation_parity_test.cpp
(run with .venv/bin/python).

  tests/fixtures/nn/tiny-llama-generate/     LlamaForCausalLM (GQA, untied head), no generation_config.json
  tests/fixtures/nn/tiny-qwen2-generate/     Qwen2ForCausalLM (qkv bias, tied head) with a Qwen instruct
                                             generation_config.json (do_sample, top_k 1, top_p 0.001,
                                             temperature 0.01, repetition_penalty 1.05, two EOS ids)
  each with config.json + model.safetensors (save_pretrained, float32) and
    expected.safetensors  inputs: prompt_<i> [1, L_i] token ids; batch_ids [3, L_max] (left-padded with
                          pad id 0) and batch_mask;
                          outputs: single_<i> and batch: the new tokens generate() returned
                          (batch rows pad with 0 after their EOS); for llama also *_qwenlike: the same
                          with the Qwen generation settings passed to generate()
    fixture.json

Weights are drawn with initializer_range 0.5 so that the logits are spread out (the default 0.02 gives
near-ties that would make greedy parity depend on the last bit). The EOS id is picked after a first
run without one: a token that the middle prompt generates around step 8 and the other prompts never do,
so that one sequence (alone and in the batch) finishes early and the others run to max_new_tokens.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from fixture_io import save_expected, versions, write_fixture_json  # noqa: E402

from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "nn"))
V, NEW = 128, 32
LENGTHS = [5, 11, 17]
QWEN_GENERATION = {"do_sample": True, "top_k": 1, "top_p": 0.001, "temperature": 0.01, "repetition_penalty": 1.05}


def prompts(seed):
    g = torch.Generator().manual_seed(seed)
    out = [torch.cat([torch.tensor([1]), torch.randint(4, V, (n - 1,), generator=g)]).unsqueeze(0) for n in LENGTHS]
    width = max(LENGTHS)
    ids = torch.zeros(len(out), width, dtype=torch.long)
    mask = torch.zeros(len(out), width, dtype=torch.long)
    for i, p in enumerate(out):
        ids[i, width - p.shape[1]:] = p[0]
        mask[i, width - p.shape[1]:] = 1
    return out, ids, mask


def run(model, singles, batch_ids, batch_mask, **kwargs):
    """New tokens of generate() for each prompt alone and for the left-padded batch."""
    res = {}
    for i, p in enumerate(singles):
        torch.manual_seed(0)
        out = model.generate(input_ids=p, attention_mask=torch.ones_like(p), max_new_tokens=NEW, **kwargs)
        res[f"single_{i}"] = out[:, p.shape[1]:]
    torch.manual_seed(0)
    out = model.generate(input_ids=batch_ids, attention_mask=batch_mask, max_new_tokens=NEW, **kwargs)
    res["batch"] = out[:, batch_ids.shape[1]:]
    return res


def pick_eos(model, singles, target=1, start=8, **kwargs):
    """A token prompt `target` first generates at step >= start, that no other prompt generates."""
    model.generation_config.eos_token_id = None
    free = run(model, singles, torch.zeros(1, 1, dtype=torch.long), torch.ones(1, 1, dtype=torch.long), **kwargs)
    others = set()
    for i in range(len(singles)):
        if i != target:
            others.update(free[f"single_{i}"][0].tolist())
    seq = free[f"single_{target}"][0].tolist()
    for step in range(start, len(seq)):
        if seq[step] not in others and seq[step] not in seq[:step]:
            return seq[step]
    raise SystemExit("no EOS candidate; change the prompt seed")


def save(folder, model, singles, batch_ids, batch_mask, outputs, oracle, extra):
    inputs = {f"prompt_{i}": p for i, p in enumerate(singles)}
    inputs.update(batch_ids=batch_ids, batch_mask=batch_mask)
    save_expected(folder, inputs, outputs)
    write_fixture_json(
        folder,
        generator="tests/oracles/nn/make_generation_fixtures.py",
        library=versions("transformers"),
        oracle=oracle,
        weights=f"random, torch.manual_seed(0), initializer_range {model.config.initializer_range}, float32",
        max_new_tokens=NEW,
        tolerance="identical token ids",
        max_abs_diff_measured={"token_ids": "identical",
                               "measured_by": "tests/nn/generation_parity_test.cpp (LibTorch 1.13, CPU, fp32)"},
        **extra,
    )


def llama():
    folder = os.path.join(FIXTURES, "tiny-llama-generate")
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=128, initializer_range=0.5, rms_norm_eps=1e-6,
                      pad_token_id=0, bos_token_id=1, eos_token_id=None, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).eval()
    singles, ids, mask = prompts(1)
    cfg.eos_token_id = pick_eos(model, singles, do_sample=False)
    model.save_pretrained(folder, safe_serialization=True)
    gen = os.path.join(folder, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)  # this fixture also covers a checkpoint without one (eos from config.json)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    outputs = run(model, singles, ids, mask, do_sample=False)
    qwenlike = run(model, singles, ids, mask, **QWEN_GENERATION)
    outputs.update({k + "_qwenlike": v for k, v in qwenlike.items()})
    save(folder, model, singles, ids, mask, outputs,
         "LlamaForCausalLM.from_pretrained(dir).generate(input_ids, attention_mask, max_new_tokens=32, "
         "do_sample=False); *_qwenlike: generate(..., do_sample=True, top_k=1, top_p=0.001, temperature=0.01, "
         "repetition_penalty=1.05)",
         {"eos_token_id": cfg.eos_token_id, "pad_token_id": 0})
    return outputs


def qwen2():
    folder = os.path.join(FIXTURES, "tiny-qwen2-generate")
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=128, initializer_range=0.5, rms_norm_eps=1e-6,
                      rope_theta=1000000.0, tie_word_embeddings=True, bos_token_id=1, eos_token_id=None,
                      pad_token_id=0)
    model = Qwen2ForCausalLM(cfg).eval()
    singles, ids, mask = prompts(2)
    # Qwen instruct checkpoints' generation_config.json (two EOS ids, like <|im_end|> and <|endoftext|>);
    # the one that ends a sequence here is the second.
    eos = [3, pick_eos(model, singles, **QWEN_GENERATION)]
    model.generation_config = GenerationConfig(bos_token_id=1, pad_token_id=0, eos_token_id=eos, **QWEN_GENERATION)
    model.save_pretrained(folder, safe_serialization=True)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    outputs = run(model, singles, ids, mask)
    save(folder, model, singles, ids, mask, outputs,
         "Qwen2ForCausalLM.from_pretrained(dir).generate(input_ids, attention_mask, max_new_tokens=32) with the "
         "saved generation_config.json",
         {"eos_token_id": eos, "pad_token_id": 0})
    return outputs


def main():
    for name, outs in (("llama", llama()), ("qwen2", qwen2())):
        for k, v in outs.items():
            print(name, k, v.tolist())


if __name__ == "__main__":
    main()
