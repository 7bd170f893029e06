#!/usr/bin/env python3
"""transformers' logits processors on fixed scores, for tests/nn/logits_processors_test.cpp
(run with .venv/bin/python).

  tests/fixtures/nn/logits-processors/
    expected.safetensors  inputs: scores [4, 50] (no ties), scores_ties [4, 50] (ties, for top-k),
                          input_ids [4, 9] (left-padded with pad id 0; one id beyond the vocabulary,
                          as when the embedding table is larger than lm_head), pad_lengths [4];
                          outputs: one tensor per case in fixture.json's "cases"
    fixture.json          the cases: processor class and arguments, or the generation-config keys
                          whose processor list (the classes generate() built, in order) is applied

Single processors are the classes themselves (RepetitionPenaltyLogitsProcessor with
prompt_ignore_length = the left padding, as generate() passes it; TemperatureLogitsWarper;
TopKLogitsWarper; TopPLogitsWarper). Combinations are exactly what generate() applies: the
LogitsProcessorList from a tiny random LlamaForCausalLM's _prepare_generation_config +
_get_logits_processor (the calls generate() makes) for that generation config.
"""
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from fixture_io import save_expected, versions, write_fixture_json  # noqa: E402

from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM  # noqa: E402
from transformers.generation.logits_process import (  # noqa: E402
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "nn", "logits-processors"))
B, V = 4, 50

SINGLE = [
    # (name, class, kwargs, which scores)
    ("penalty_1.05", "RepetitionPenaltyLogitsProcessor", {"penalty": 1.05}, "scores"),
    ("penalty_1.3", "RepetitionPenaltyLogitsProcessor", {"penalty": 1.3}, "scores"),
    ("penalty_0.8", "RepetitionPenaltyLogitsProcessor", {"penalty": 0.8}, "scores"),
    ("temperature_0.7", "TemperatureLogitsWarper", {"temperature": 0.7}, "scores"),
    ("temperature_0.01", "TemperatureLogitsWarper", {"temperature": 0.01}, "scores"),
    ("top_k_1", "TopKLogitsWarper", {"top_k": 1}, "scores"),
    ("top_k_5", "TopKLogitsWarper", {"top_k": 5}, "scores"),
    ("top_k_50", "TopKLogitsWarper", {"top_k": 50}, "scores"),
    ("top_k_80", "TopKLogitsWarper", {"top_k": 80}, "scores"),
    ("top_k_1_keep_3", "TopKLogitsWarper", {"top_k": 1, "min_tokens_to_keep": 3}, "scores"),
    ("top_k_3_ties", "TopKLogitsWarper", {"top_k": 3}, "scores_ties"),
    ("top_k_1_ties", "TopKLogitsWarper", {"top_k": 1}, "scores_ties"),
    ("top_p_0.001", "TopPLogitsWarper", {"top_p": 0.001}, "scores"),
    ("top_p_0.5", "TopPLogitsWarper", {"top_p": 0.5}, "scores"),
    ("top_p_0.9", "TopPLogitsWarper", {"top_p": 0.9}, "scores"),
    ("top_p_0.0", "TopPLogitsWarper", {"top_p": 0.0}, "scores"),
    ("top_p_1.0", "TopPLogitsWarper", {"top_p": 1.0}, "scores"),
    ("top_p_0.1_keep_4", "TopPLogitsWarper", {"top_p": 0.1, "min_tokens_to_keep": 4}, "scores"),
]

COMBINED = [
    # Qwen2-VL-7B-Instruct's and Qwen2.5-VL's generation_config.json (sampling, top_k 1 after the penalty).
    ("generate_qwen2_vl", {"do_sample": True, "top_k": 1, "top_p": 0.001, "temperature": 0.01,
                           "repetition_penalty": 1.05}),
    ("generate_qwen2_5_vl", {"do_sample": True, "top_k": 1, "top_p": 0.001, "temperature": 0.1,
                             "repetition_penalty": 1.05}),
    ("generate_sample_defaults", {"do_sample": True}),
    ("generate_sample_t0.7_p0.9_k0", {"do_sample": True, "temperature": 0.7, "top_k": 0, "top_p": 0.9}),
    ("generate_sample_all", {"do_sample": True, "temperature": 1.3, "top_k": 5, "top_p": 0.8,
                             "repetition_penalty": 0.9}),
    ("generate_greedy_penalty", {"do_sample": False, "repetition_penalty": 1.2, "temperature": 0.5, "top_k": 3}),
    ("generate_greedy", {"do_sample": False}),
]


def tiny_llama():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=V, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(cfg).eval()


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    # Distinct values (no ties), spread so that top-p cut-offs land inside the rows.
    scores = torch.randn(B, V, generator=g) * 3
    assert all(len(set(r.tolist())) == V for r in scores)
    # Ties at the top-k boundaries: values on a coarse grid.
    scores_ties = torch.randint(-3, 4, (B, V), generator=g).float()
    pad_lengths = torch.tensor([0, 2, 5, 8])
    T = 9
    input_ids = torch.randint(3, V, (B, T), generator=g)
    for b in range(B):
        input_ids[b, : pad_lengths[b]] = 0  # pad_token_id, on the left
    input_ids[0, 4] = V + 3  # beyond the output vocabulary (ignored by the penalty)
    input_ids[1, 6] = input_ids[1, 7]  # a repeated id
    attention_mask = (torch.arange(T)[None, :] >= pad_lengths[:, None]).long()

    inputs = {"scores": scores, "scores_ties": scores_ties, "input_ids": input_ids, "pad_lengths": pad_lengths}
    outputs, cases = {}, []
    classes = {c.__name__: c for c in (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                                        TopKLogitsWarper, TopPLogitsWarper)}
    for name, cls, kwargs, which in SINGLE:
        args = dict(kwargs)
        if cls == "RepetitionPenaltyLogitsProcessor":
            args["prompt_ignore_length"] = pad_lengths
        proc = classes[cls](**args)
        outputs[name] = proc(input_ids, inputs[which].clone())
        cases.append({"name": name, "processor": cls, "args": kwargs, "scores": which})

    model = tiny_llama()
    for name, gen_kwargs in COMBINED:
        gen_cfg, _ = model._prepare_generation_config(GenerationConfig(**gen_kwargs))
        procs = model._get_logits_processor(generation_config=gen_cfg, input_ids_seq_length=T,
                                            encoder_input_ids=input_ids, logits_processor=None,
                                            device="cpu", model_kwargs={"attention_mask": attention_mask})
        outputs[name] = procs(input_ids, scores.clone())
        cases.append({"name": name, "generation_config": gen_kwargs, "scores": "scores",
                      "processors": [type(p).__name__ for p in procs]})

    save_expected(OUT, inputs, outputs)
    write_fixture_json(
        OUT,
        generator="tests/oracles/nn/make_logits_processor_fixtures.py",
        library=versions("transformers"),
        oracle=("transformers.generation.logits_process classes called on (input_ids, scores); combinations: "
                "LlamaForCausalLM._prepare_generation_config(GenerationConfig(**cfg)) then "
                "_get_logits_processor(..., model_kwargs={'attention_mask': mask}) as generate() calls them"),
        weights="none (fixed random scores, torch.Generator seed 1234)",
        cases=cases,
        tolerance="exact (-inf where transformers filters; finite values within 1e-6)",
        max_abs_diff_measured=0.0,
    )
    print("wrote", OUT)


if __name__ == "__main__":
    main()
