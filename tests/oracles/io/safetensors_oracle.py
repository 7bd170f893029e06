#!/usr/bin/python3
"""An independent safetensors writer and reader for tests/io/safetensors_test.cpp: struct + json +
torch byte views (Debian's /usr/bin/python3 with apt's python3-torch), not our code and not the
safetensors package.

usage: safetensors_oracle.py write PATH
         writes U8, F32, BF16 and I64 tensors (the 3-byte U8 first leaves the F32 and BF16 data
         misaligned, which the format allows) with metadata {"k": "v"}; prints {name: flat values}
       safetensors_oracle.py read PATH
         prints {name: flat values as float64} of every tensor in PATH
"""
import json
import struct
import sys

import torch


def write(path):
    torch.manual_seed(3)
    ts = {"a_u8": torch.tensor([1, 2, 3], dtype=torch.uint8),
          "b_f32": torch.randn(2, 3),
          "c_bf16": torch.randn(5).to(torch.bfloat16),
          "d_i64": torch.tensor([-(2**40), 5])}
    hdr, blobs, off = {"__metadata__": {"k": "v"}}, b"", 0
    names = {torch.uint8: "U8", torch.float32: "F32", torch.bfloat16: "BF16", torch.int64: "I64"}
    for n, t in ts.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dtype != torch.uint8 else t.numpy().tobytes()
        hdr[n] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs += raw
        off += len(raw)
    h = json.dumps(hdr).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + blobs)
    print(json.dumps({n: t.double().flatten().tolist() for n, t in ts.items()}))


def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    data = b[8 + n:]
    dt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
          "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}
    out = {}
    for k, v in hdr.items():
        s, e = v["data_offsets"]
        t = (torch.frombuffer(bytearray(data[s:e]), dtype=torch.uint8).view(dt[v["dtype"]]) if e > s
             else torch.empty(0, dtype=dt[v["dtype"]]))
        out[k] = t.reshape(v["shape"]).double().flatten().tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "read"):
        sys.exit("usage: safetensors_oracle.py {write,read} PATH")
    (write if sys.argv[1] == "write" else read)(sys.argv[2])
