#!/usr/bin/python3
"""numpy.percentile (linear interpolation, Debian's python3-numpy) as the oracle for
tests/metrics/bootstrap_test.cpp.

usage: numpy_percentile_oracle.py Q[,Q...] V...
  prints repr(float(np.percentile(V, q))) for each q, space-separated.
"""
import sys

import numpy as np

if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: numpy_percentile_oracle.py Q[,Q...] V...")
    v = [float(x) for x in sys.argv[2:]]
    print(*[repr(float(np.percentile(v, float(q)))) for q in sys.argv[1].split(",")])
