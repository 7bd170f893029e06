#!/usr/bin/python3
"""A damaged MedMNIST archive for tests/datasets/bad_input_test.cpp (Debian's python3-numpy):
DIR/breastmnist_64.npz with train images and labels only, the second label (5) out of range.

usage: make_bad_medmnist_fixture.py DIR
"""
import sys

import numpy as np

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_bad_medmnist_fixture.py DIR")
    np.savez(sys.argv[1] + '/breastmnist_64.npz', train_images=np.zeros((2, 8, 8), np.uint8),
             train_labels=np.array([[1], [5]], np.uint8))
