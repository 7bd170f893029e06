"""The learning-rate factors of transformers' get_scheduler, for tests/train/lr_schedule_test.cpp.

Usage: lr_schedule_oracle.py NAME:TOTAL:WARMUP ...
Prints one JSON object: {"NAME:TOTAL:WARMUP": [factor before optimizer step 0, 1, ..., TOTAL - 1], ...,
"transformers": version}. The factor is the lr the LambdaLR sets on a parameter group whose base lr
is 1.0, read with get_last_lr() before each optimizer.step(), as Trainer steps them.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import transformers
from transformers import get_scheduler


def factors(name, total, warmup):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = get_scheduler(name, opt, num_warmup_steps=warmup, num_training_steps=total)
    out = []
    for _ in range(total):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out


def main():
    result = {"transformers": transformers.__version__}
    for case in sys.argv[1:]:
        name, total, warmup = case.split(":")
        result[case] = factors(name, int(total), int(warmup))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
