#!/usr/bin/python3
"""numpy (Debian's /usr/bin/python3 with apt's python3-numpy) as the npy/npz writer and the oracle
for tests/io/npz_test.cpp.

usage: npz_oracle.py dtypes PATH stored|deflated
         writes every dtype the reader supports (big-endian, Fortran-ordered, a 0-d scalar too) with
         np.savez / np.savez_compressed; prints per key: name shape sum-of-float64 first last
       npz_oracle.py two-arrays PATH              np.savez(PATH, x=np.zeros(2), y=np.ones(3))
       npz_oracle.py arange PATH stored|deflated N  np.savez[_compressed](PATH, x=np.arange(N, dtype=int64))
       npz_oracle.py object-npy PATH              np.save of an object array (a dtype the reader refuses)
"""
import sys

import numpy as np


def dtypes(path, mode):
    rng = np.random.default_rng(3)
    arrays = {
        'u8': rng.integers(0, 256, size=(3, 5, 4), dtype=np.uint8),
        'i8': rng.integers(-128, 128, size=(7,), dtype=np.int8),
        'i16': rng.integers(-30000, 30000, size=(2, 3), dtype=np.int16),
        'u16': rng.integers(0, 65535, size=(4,), dtype=np.uint16),
        'i32': rng.integers(-2**31, 2**31 - 1, size=(3,), dtype=np.int32),
        'i64': np.array([-(2**40), 5, 2**50], dtype=np.int64),
        'u32': rng.integers(0, 2**32 - 1, size=(3,), dtype=np.uint32),
        'f16': np.array([0.5, -2.25, 1e-5, 65504.0], dtype=np.float16),
        'f32': rng.standard_normal((4, 3)).astype(np.float32),
        'f64': rng.standard_normal((2, 2, 2)),
        'b': np.array([True, False, True]),
        'be': np.array([1, -2, 300000], dtype='>i4'),
        'fortran': np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
        'scalar': np.array(7.5),
    }
    save(mode)(path, **arrays)
    for k, a in arrays.items():
        f = np.ascontiguousarray(a).reshape(-1)
        print(k, a.shape, '%.17g' % float(f.astype(np.float64).sum()), '%.17g' % float(f[0]),
              '%.17g' % float(f[-1]))


def save(mode):
    if mode not in ("stored", "deflated"):
        sys.exit(f"npz_oracle.py: mode must be stored or deflated, not {mode!r}")
    return np.savez_compressed if mode == "deflated" else np.savez


if __name__ == "__main__":
    cmd, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if cmd == "dtypes" and len(args) == 2:
        dtypes(*args)
    elif cmd == "two-arrays" and len(args) == 1:
        np.savez(args[0], x=np.zeros(2), y=np.ones(3))
    elif cmd == "arange" and len(args) == 3:
        save(args[1])(args[0], x=np.arange(int(args[2]), dtype=np.int64))
    elif cmd == "object-npy" and len(args) == 1:
        np.save(args[0], np.array(['a', 'b'], dtype=object), allow_pickle=True)
    else:
        sys.exit(__doc__)
