#!/usr/bin/env python3
"""Reference side of bench/bertscore_bench.cpp: BERTScore computed by the `bert_score` package the way
MedVLMBench's calculate_bertscore() calls it (run with the oracle environment, .venv/bin/python).

  bertscore_bench_reference.py make MODEL_DIR HIDDEN
      a random 12-layer BertForPreTraining (transformers' init, torch.manual_seed(0)) of width HIDDEN,
      saved by save_pretrained with tests/fixtures/models/tiny-clinicalbert's vocab.txt
  bertscore_bench_reference.py score MODEL_DIR REQUEST.json OUT.json
      REQUEST {"pairs": [[cand, ref], ...]}
      OUT     {"f1": [...] (one bert_score.score call per pair, as the reference),
               "per_pair_s": time of those calls (each reloads the model: that is what the reference pays),
               "batched_s": one bert_score.score(cands, refs) call over all pairs (the package's best case),
               "f1_batched": [...]}
The texts are trimmed to model_max_length - 2 word pieces first, as the reference does; the trim is
timed too. The bert_score / transformers 5 workarounds are make_bertscore_fixtures.py's.
"""
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_bertscore_fixtures as fx  # noqa: E402  (also installs the bert_score workarounds)

import bert_score  # noqa: E402
import torch  # noqa: E402
from transformers import BertConfig, BertForPreTraining  # noqa: E402


def make(model_dir, hidden):
    hidden = int(hidden)
    vocab = os.path.join(fx.ROOT, "tiny-clinicalbert", "vocab.txt")
    with open(vocab) as f:
        n = len(f.read().split())
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=n, hidden_size=hidden, num_attention_heads=max(1, hidden // 64), num_hidden_layers=12,
                     intermediate_size=4 * hidden, max_position_embeddings=512)
    BertForPreTraining(cfg).save_pretrained(model_dir)
    shutil.copy(vocab, model_dir)


def score(model_dir, request, out):
    with open(request) as f:
        pairs = json.load(f)["pairs"]
    ref = fx.Reference(model_dir)
    t0 = time.perf_counter()
    f1 = [ref.score(c, r, 12)[2] for c, r in pairs]
    per_pair_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, _, F = bert_score.score([ref.trim(c) for c, _ in pairs], [ref.trim(r) for _, r in pairs], model_type=model_dir,
                               num_layers=12, device="cpu")
    batched_s = time.perf_counter() - t0
    with open(out, "w") as f:
        json.dump({"f1": f1, "per_pair_s": per_pair_s, "batched_s": batched_s, "f1_batched": F.tolist()}, f)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "score":
        score(*sys.argv[2:])
    else:
        sys.exit(__doc__)
