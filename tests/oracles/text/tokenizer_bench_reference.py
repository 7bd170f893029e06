"""Reference side of bench/tokenizer_bench.cpp: Hugging Face `tokenizers` (the Rust library, the
venv's Python package) encoding the same texts, single-threaded (TOKENIZERS_PARALLELISM=false and
RAYON_NUM_THREADS=1 are set before the import).

usage: python tokenizer_bench_reference.py <tokenizer.json> <texts.json> <rounds>
stdout: {"tokens": N, "seconds": best-of-rounds wall time of one encode_batch over all texts,
         "tokenizers": version}
"""

import json
import os
import sys
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

import tokenizers  # noqa: E402  (after the thread settings)


def main():
    if len(sys.argv) != 4:
        sys.stderr.write("usage: tokenizer_bench_reference.py <tokenizer.json> <texts.json> <rounds>\n")
        sys.exit(2)
    path, texts_file, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tok = tokenizers.Tokenizer.from_file(path)
    with open(texts_file, encoding="utf-8") as f:
        texts = json.load(f)
    tok.encode_batch(texts[:100], add_special_tokens=False)  # warm-up
    best, tokens = float("inf"), 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        encodings = tok.encode_batch(texts, add_special_tokens=False)
        dt = time.perf_counter() - t0
        tokens = sum(len(e.ids) for e in encodings)
        best = min(best, dt)
    sys.stdout.write(json.dumps({"tokens": tokens, "seconds": best, "tokenizers": tokenizers.__version__}))


if __name__ == "__main__":
    main()
