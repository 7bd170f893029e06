#!/usr/bin/env bash
# Native parquet/npz readers vs the reference readers, same machine, same command:
#   parquet: medvlmbench's reader vs parquet-wasm (arrow-rs, the files' writer) decoding all columns;
#   npz:     medvlmbench's reader vs numpy.load(...)[key] (Debian python3-numpy).
# Inputs: a 2,000-row parquet file with a 20 KB binary image column + text (snappy), and a
# savez_compressed npz with 500 x 224 x 224 uint8 images (the MedMNIST-224 shape).
# usage: scripts/bench_dataset_readers.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
ninja -C "$build" bench_dataset_readers >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$tmp" <<'PY'
import base64, json, os, sys, numpy as np
tmp = sys.argv[1]
rng = np.random.default_rng(0)
n = 2000
imgs = [{"bytes": base64.b64encode(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes()).decode(), "path": f"{i}.png"} for i in range(n)]
spec = {"out": f"{tmp}/b.parquet", "compression": "SNAPPY", "row_group_size": 500, "columns": [
    {"name": "image", "type": "image", "values": imgs},
    {"name": "question", "type": "utf8", "values": [f"question number {i} about the image?" for i in range(n)]},
    {"name": "answer", "type": "utf8", "values": ["yes" if i % 2 else "no" for i in range(n)]}]}
json.dump(spec, open(f"{tmp}/spec.json", "w"))
x = np.zeros((500, 224, 224), np.uint8)
for i in range(500):
    x[i, 50:150, 40 + i % 50:140 + i % 50] = 80 + i % 100
    x[i] += rng.integers(0, 8, (224, 224), dtype=np.uint8)
np.savez_compressed(f"{tmp}/b.npz", train_images=x)
PY
node "$here/tests/oracles/io/write_parquet.mjs" "$tmp/spec.json"

mine=$("$build/bench_dataset_readers" "$tmp/b.parquet" "$tmp/b.npz" train_images 3)
ref_pq=$(cd "$here/tests/oracles" && node --input-type=module -e "
import fs from 'node:fs'; import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/x.js');
const pq = require('parquet-wasm'); const arrow = require('apache-arrow');
const data = fs.readFileSync('$tmp/b.parquet'); let best = 1e30;
for (let r = 0; r < 3; r++) { const t0 = process.hrtime.bigint();
  const t = arrow.tableFromIPC(pq.readParquet(new Uint8Array(fs.readFileSync('$tmp/b.parquet'))).intoIPCStream());
  let bytes = 0; const col = t.getChild('image').getChild('bytes'); for (let i = 0; i < col.length; i++) bytes += col.get(i).length;
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9); }
console.log(best.toFixed(4));")
ref_npz=$(/usr/bin/python3 -c "
import time, numpy as np
best = 1e30
for _ in range(3):
    t0 = time.perf_counter(); a = np.load('$tmp/b.npz')['train_images']; best = min(best, time.perf_counter() - t0)
print('%.4f' % best)")
/usr/bin/python3 - "$mine" "$ref_pq" "$ref_npz" <<'PY'
import json, sys
m = json.loads(sys.argv[1]); pq, npz = float(sys.argv[2]), float(sys.argv[3])
print(f"parquet: medvlmbench {m['parquet_s']:.4f} s, parquet-wasm {pq:.4f} s, ratio {m['parquet_s'] / pq:.2f}x (lower is faster)")
print(f"npz:     medvlmbench {m['npz_s']:.4f} s, numpy {npz:.4f} s, ratio {m['npz_s'] / npz:.2f}x")
PY
