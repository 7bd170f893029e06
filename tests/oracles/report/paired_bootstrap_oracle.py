"""Paired bootstrap oracle for `medvlmbench compare` (src/report/compare.cpp).

The resampling stream is the one every bootstrap of medvlmbench uses (metrics::BootstrapRng):
splitmix64-seeded xoshiro256**, each index in [0, n) drawn as ((next() >> 32) * n) >> 32. It is
re-implemented here in plain Python integers, so the indices are the same by construction; the
statistics are then computed with numpy:
  delta = b - a;  d = sum(delta) / n;  d_r = sum(delta[idx_r]) / n
  p = (1 + #{r : |d_r - d| >= |d|}) / (R + 1)  (1 when d == 0);  ci95 = np.percentile(d_r, [2.5, 97.5])
Sums run left to right (np.cumsum's last element), as the C++ loop adds them, so every float is equal.

Usage:
  paired_bootstrap_oracle.py values FILE.json R SEED      FILE: {"a": [...], "b": [...]}
  paired_bootstrap_oracle.py diagnosis RUN_A RUN_B R SEED  per-sample accuracy from predictions.jsonl
Prints JSON {n, mean_a, mean_b, diff, p_value, ci95}.
"""
import json
import os
import sys

import numpy as np

M64 = (1 << 64) - 1


class BootstrapRng:
    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed = (seed + 0x9E3779B97F4A7C15) & M64
            z = seed
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def below(self, n):
        return ((self.next() >> 32) * n) >> 32


def seq_sum(x):
    """Left-to-right sum (numpy's sum is pairwise; cumsum is sequential)."""
    return float(np.cumsum(x, axis=-1)[..., -1]) if x.ndim == 1 else np.cumsum(x, axis=-1)[..., -1]


def paired_bootstrap(a, b, resamples, seed):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = len(a)
    rng = BootstrapRng(seed)
    idx = np.array([[rng.below(n) for _ in range(n)] for _ in range(resamples)], dtype=np.int64)
    delta = b - a
    d = seq_sum(delta) / n
    d_r = seq_sum(delta[idx]) / n
    extreme = int(np.sum(np.abs(d_r - d) >= abs(d)))
    p = 1.0 if d == 0 else (1 + extreme) / (resamples + 1)
    return {
        "n": n,
        "mean_a": seq_sum(a) / n,
        "mean_b": seq_sum(b) / n,
        "diff": d,
        "p_value": p,
        "ci95": [float(v) for v in np.percentile(d_r, [2.5, 97.5])],
    }


def diagnosis_correct(run_dir):
    """id -> 1.0/0.0: argmax of the scores equals the label (single-label runs)."""
    out = {}
    order = []
    with open(os.path.join(run_dir, "predictions.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            if row.get("status") == "failed" or "scores" not in row:
                continue
            if row["id"] not in out:
                order.append(row["id"])
            out[row["id"]] = float(int(np.argmax(row["scores"])) == row["label"][0])
    return order, out


def main():
    mode = sys.argv[1]
    if mode == "values":
        with open(sys.argv[2]) as f:
            v = json.load(f)
        a, b = v["a"], v["b"]
        resamples, seed = int(sys.argv[3]), int(sys.argv[4])
    elif mode == "diagnosis":
        order_a, ca = diagnosis_correct(sys.argv[2])
        _, cb = diagnosis_correct(sys.argv[3])
        shared = [i for i in order_a if i in cb]  # run A's order
        a = [ca[i] for i in shared]
        b = [cb[i] for i in shared]
        resamples, seed = int(sys.argv[4]), int(sys.argv[5])
    else:
        raise SystemExit("mode must be values or diagnosis")
    print(json.dumps(paired_bootstrap(a, b, resamples, seed)))


if __name__ == "__main__":
    main()
