#!/usr/bin/env python3
"""Writes tests/fixtures/nn/decoder/<name>: tiny random decoder-only language models saved with
transformers' save_pretrained (config.json + model.safetensors in the published layout) and
expected.safetensors with transformers' own outputs, for src/nn/decoder.cpp:

  tiny-llama           LlamaForCausalLM (multi-head), left-padded batch; also greedy ids from generate()
  tiny-mistral         MistralForCausalLM, GQA, sliding_window 4 (shorter than the prompts, so it matters)
  tiny-qwen2           Qwen2ForCausalLM, qkv bias, GQA, tie_word_embeddings (no lm_head in the file)
  tiny-qwen3           Qwen3ForCausalLM: QK-norm, head_dim != hidden/heads, a sliding window on layer 1 only
  tiny-llama-llama3    LlamaForCausalLM with rope_type llama3 (all three wavelength bands hit)
  tiny-llama-yarn      LlamaForCausalLM with rope_type yarn (attention_factor derived from factor)
  tiny-llama-dynamic   LlamaForCausalLM with rope_type dynamic, prompts longer than max_position_embeddings
  tiny-llama-linear    LlamaForCausalLM with rope_type linear
  tiny-qwen2-vl-text   Qwen2VLTextModel (M-RoPE, mrope_section [2, 3, 3]) on [3, B, L] position ids whose
                       three streams differ; output is last_hidden_state (the text model has no head)

Inputs: a batch of two prompts, the second left-padded, with transformers generate()'s position ids
(cumsum(attention_mask) - 1, 1 at padding). Logits come from model(input_ids, attention_mask=...,
position_ids=...) in fp32 with attn_implementation='eager' (transformers' reference attention).

  .venv/bin/python tests/oracles/nn/make_decoder_fixtures.py      (bash scripts/oracle_env.sh first)
Read by tests/nn/decoder_test.cpp. Seeded: reruns give the same tensors.
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from fixture_io import save_expected, versions, write_fixture_json  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "fixtures", "nn", "decoder"))
GENERATOR = "tests/oracles/nn/make_decoder_fixtures.py"

SMALL = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             max_position_embeddings=64, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2, pad_token_id=0)
# Rope-variant models: one layer, head_dim 16 (8 frequencies), enough to see the scaling.
ROPE = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
            num_key_value_heads=2, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2, pad_token_id=0)


def randomize(model, seed):
    """Weights far from transformers' init (std 0.02 makes every layer nearly the identity and the logits
    nearly flat): norms 1 + 0.1 N(0, 1), biases 0.1 N(0, 1), matrices N(0, 1) / sqrt(fan_in), embeddings N(0, 1)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape))
            elif "embed_tokens" in name:
                # A tied table is the head too: scaled so the logits stay ~4 (as the untied heads give).
                tied = getattr(model.config, "tie_word_embeddings", False)
                p.copy_(torch.randn(p.shape) * (p.shape[1] ** -0.5 if tied else 1.0))
            else:
                p.copy_(torch.randn(p.shape) / p.shape[1] ** 0.5)


def batch(vocab, lengths, seed):
    """Left-padded prompts of the given lengths: input_ids, attention_mask, position_ids as generate() makes them."""
    g = torch.Generator().manual_seed(seed)
    total = max(lengths)
    ids = torch.zeros(len(lengths), total, dtype=torch.long)
    mask = torch.zeros(len(lengths), total, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, total - n:] = torch.randint(3, vocab, (n,), generator=g)
        mask[i, total - n:] = 1
    pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    return ids, mask, pos


def must_differ(what, cls, config, **changes):
    """A check for causal_lm_fixture: the same weights under `config` with `changes` give other logits
    (by > 1e-2 at the last position), so the feature under test (window, rope scaling) shows."""
    def check(model, ids, mask, pos, logits):
        other = cls(type(config)(**dict(config.to_dict(), **changes)))
        other.load_state_dict(model.state_dict())
        other.eval()
        with torch.no_grad():
            alt = other(input_ids=ids, attention_mask=mask, position_ids=pos).logits
        diff = float((alt - logits)[:, -1].abs().max())
        assert diff > 1e-2, f"{what} changes nothing ({diff})"
        print(f"  {what} changes the last logits by {diff:.3f}")
    return check


def causal_lm_fixture(name, cls, config, seed, lengths, oracle_note, greedy=0, check=None, bf16=False):
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    model = cls(config)
    randomize(model, seed)
    model.save_pretrained(out)
    # Reload what was written, as published checkpoints are loaded.
    model = cls.from_pretrained(out, attn_implementation="eager").eval()
    ids, mask, pos = batch(config.vocab_size, lengths, seed + 1)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    inputs = {"input_ids": ids, "attention_mask": mask, "position_ids": pos}
    outputs = {"logits": logits}
    if greedy:
        with torch.no_grad():
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=greedy, do_sample=False,
                                 pad_token_id=config.pad_token_id, eos_token_id=None)
        outputs["greedy_ids"] = gen[:, ids.shape[1]:]
    if check:
        check(model, ids, mask, pos, logits)
    if bf16:
        # The same checkpoint cast with .to(torch.bfloat16), as a bf16 run loads it.
        half = cls.from_pretrained(out, attn_implementation="eager").to(torch.bfloat16).eval()
        with torch.no_grad():
            outputs["logits_bf16"] = half(input_ids=ids, attention_mask=mask, position_ids=pos).logits.float()
    save_expected(out, inputs, outputs)
    oracle = (f"transformers {cls.__name__}.from_pretrained(folder, attn_implementation='eager') in fp32: "
              "model(input_ids, attention_mask, position_ids).logits")
    if bf16:
        oracle += "; logits_bf16: the same after .to(torch.bfloat16), as float32"
    if greedy:
        oracle += (f"; greedy_ids = model.generate(input_ids, attention_mask, max_new_tokens={greedy}, "
                   "do_sample=False, eos_token_id=None)[:, prompt_len:]")
    write_fixture_json(
        out, generator=GENERATOR, library=versions("transformers"), oracle=oracle, note=oracle_note,
        format=f"transformers {cls.__name__}.save_pretrained (config.json + model.safetensors)",
        inputs=f"batch of {len(lengths)} prompts of lengths {lengths}, left-padded; position_ids = "
               "cumsum(attention_mask) - 1 (1 at padding) as generate() computes them",
        weights="seeded random: norms 1 + 0.1 N(0,1), biases 0.1 N(0,1), matrices N(0,1)/sqrt(fan_in), embeddings N(0,1) (N(0,1)/sqrt(hidden) when tied to the head)",
        tolerance=dict({"logits_fp32": 1e-4}, **({"greedy_ids": "exact"} if greedy else {}),
                       **({"logits_bf16": BF16_TOLERANCE} if bf16 else {})),
        max_abs_diff_measured=MEASURED.get(name, "not yet measured"))
    print(name, "logits", tuple(logits.shape), "max |logit|", float(logits.abs().max()))


def qwen2_vl_text_fixture(seed=60):
    from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLTextConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLTextModel
    name = "tiny-qwen2-vl-text"
    out = os.path.join(ROOT, name)
    os.makedirs(out, exist_ok=True)
    config = Qwen2VLTextConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                               rms_norm_eps=1e-6, rope_theta=1000000.0,
                               rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
                               bos_token_id=1, eos_token_id=2, pad_token_id=0)
    model = Qwen2VLTextModel(config)
    randomize(model, seed)
    model.save_pretrained(out)
    model = Qwen2VLTextModel.from_pretrained(out, attn_implementation="eager").eval()
    ids, mask, _ = batch(config.vocab_size, [14, 10], seed + 1)
    # M-RoPE positions as Qwen2-VL's get_rope_index makes them around an image: text runs share one
    # position on all three streams; the image block (2 x 3 grid here, 6 tokens) holds t fixed while h
    # and w walk the grid, and the text after it resumes at max + 1.
    pos = torch.ones(3, 2, 14, dtype=torch.long)
    for row, n in enumerate([14, 10]):
        start = 14 - n
        p = []
        t = 0
        for i in range(3):
            p.append([t, t, t])
            t += 1
        for hh in range(2):
            for ww in range(3):
                p.append([t, t + hh, t + ww])
        t = t + 3
        while len(p) < n:
            p.append([t, t, t])
            t += 1
        pos[:, row, start:] = torch.tensor(p[:n]).T
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state
    save_expected(out, {"input_ids": ids, "attention_mask": mask, "position_ids": pos},
                  {"last_hidden_state": hidden})
    write_fixture_json(
        out, generator=GENERATOR, library=versions("transformers"),
        oracle="transformers Qwen2VLTextModel.from_pretrained(folder, attn_implementation='eager') in fp32: "
               "model(input_ids, attention_mask, position_ids [3, B, L]).last_hidden_state",
        format="transformers Qwen2VLTextModel.save_pretrained (config.json + model.safetensors; the text "
               "model alone, so tensor names have no 'model.' prefix and there is no lm_head)",
        inputs="batch of 2 prompts (14 and 10 tokens, the second left-padded); M-RoPE position ids as "
               "get_rope_index lays out 3 text tokens, a 2x3 image grid, then text",
        weights="seeded random: norms 1 + 0.1 N(0,1), biases 0.1 N(0,1), matrices N(0,1)/sqrt(fan_in), embeddings N(0,1)",
        tolerance={"last_hidden_state_fp32": 1e-4},
        max_abs_diff_measured=MEASURED.get(name, "not yet measured"))
    print(name, "hidden", tuple(hidden.shape))


# bf16 logits of ~4 carry ~0.03 of rounding; summation orders differ between LibTorch's and PyTorch's
# kernels, so bf16 parity is held to a looser bound than fp32.
BF16_TOLERANCE = 0.1

# What tests/nn/decoder_test.cpp measured (filled in after a run; the generator keeps them on reruns).
MEASURED = {}


def main():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config,
                              Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)
    import json
    for name in os.listdir(ROOT) if os.path.isdir(ROOT) else []:
        fj = os.path.join(ROOT, name, "fixture.json")
        if os.path.exists(fj):
            MEASURED[name] = json.load(open(fj)).get("max_abs_diff_measured", "not yet measured")

    causal_lm_fixture("tiny-llama", LlamaForCausalLM, LlamaConfig(**SMALL), 10, [11, 7],
                      "multi-head attention, no biases", greedy=8, bf16=True)

    mistral = MistralConfig(**SMALL, num_key_value_heads=2, sliding_window=4, rope_theta=1000000.0)
    causal_lm_fixture("tiny-mistral", MistralForCausalLM, mistral, 20, [12, 9],
                      "GQA (4 heads, 2 kv heads), sliding_window 4, rope_theta 1e6",
                      check=must_differ("the sliding window", MistralForCausalLM, mistral, sliding_window=None))
    causal_lm_fixture("tiny-qwen2", Qwen2ForCausalLM,
                      Qwen2Config(**SMALL, num_key_value_heads=2, tie_word_embeddings=True), 30, [10, 6],
                      "qkv bias, GQA (4 heads, 2 kv heads), tie_word_embeddings (the file has no lm_head.weight)",
                      bf16=True)
    qwen3 = Qwen3Config(**SMALL, num_key_value_heads=2, head_dim=32, attention_bias=True, use_sliding_window=True,
                        sliding_window=3, max_window_layers=1)
    causal_lm_fixture("tiny-qwen3", Qwen3ForCausalLM, qwen3, 35, [11, 8],
                      "QK-norm, attention_bias on q/k/v/o, head_dim 32 (not hidden/heads = 16), GQA; "
                      "use_sliding_window with max_window_layers 1: layer 0 full, layer 1 sliding_window 3",
                      check=must_differ("the sliding window", Qwen3ForCausalLM, qwen3, use_sliding_window=False,
                                        layer_types=None))
    rope_cases = [
        ("tiny-llama-llama3", dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                   original_max_position_embeddings=16), 64, [20, 13]),
        ("tiny-llama-yarn", dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=16), 64, [20, 13]),
        ("tiny-llama-dynamic", dict(rope_type="dynamic", factor=2.0), 12, [20, 13]),
        ("tiny-llama-linear", dict(rope_type="linear", factor=2.5), 64, [20, 13]),
    ]
    for i, (name, scaling, max_pos, lengths) in enumerate(rope_cases):
        cfg = LlamaConfig(**ROPE, max_position_embeddings=max_pos, rope_scaling=scaling)
        causal_lm_fixture(name, LlamaForCausalLM, cfg, 40 + i, lengths, f"rope_scaling {scaling}, "
                          f"max_position_embeddings {max_pos}",
                          check=must_differ("the rope scaling", LlamaForCausalLM, cfg,
                                            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}))
    qwen2_vl_text_fixture()


if __name__ == "__main__":
    main()
