#!/usr/bin/python3
"""What the reference's own readers (pickle, numpy, PIL; Debian's /usr/bin/python3 with apt's
python3-numpy and python3-pil) see in the dataset fixtures, for tests/datasets/vqa_loaders_test.cpp
and diagnosis_loaders_test.cpp.

usage: loader_oracle.py COMMAND PATH
  pathvqa-pickle PATH  PathVQA's original qas pickle: "question|answer" per record
  fairvlmed-npz PATH   FairVLMed10k's slo_fundus: "rows cols sum pixel[3,7]"
  medmnist-npz PATH    MedMNIST test_images[3]: "shape sum pixel[10,12,1]"
  gf3300-rnflt PATH    GF3300's rnflt scaled as the reference does ((x+2)/352*255 -> uint8 -> RGB),
                       channel 0: "rows cols sum pixel[16,16]"
"""
import pickle
import sys


def pathvqa_pickle(path):
    for d in pickle.load(open(path, 'rb')):
        print(d['question'] + '|' + d['answer'])


def fairvlmed_npz(path):
    import numpy as np
    a = np.load(path)['slo_fundus']
    print(a.shape[0], a.shape[1], int(a.sum()), int(a[3, 7]))


def medmnist_npz(path):
    import numpy as np
    a = np.load(path)['test_images'][3]
    print(a.shape, int(a.sum()), int(a[10, 12, 1]))


def gf3300_rnflt(path):
    import numpy as np
    from PIL import Image
    x = np.load(path)['rnflt']
    a = np.asarray(Image.fromarray(((x - (-2)) / (350 - (-2)) * 255).astype(np.uint8)).convert('RGB'))[:, :, 0]
    print(a.shape[0], a.shape[1], int(a.astype(np.int64).sum()), int(a[16, 16]))


COMMANDS = {"pathvqa-pickle": pathvqa_pickle, "fairvlmed-npz": fairvlmed_npz, "medmnist-npz": medmnist_npz,
            "gf3300-rnflt": gf3300_rnflt}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: loader_oracle.py {" + ",".join(COMMANDS) + "} PATH")
    COMMANDS[sys.argv[1]](sys.argv[2])
