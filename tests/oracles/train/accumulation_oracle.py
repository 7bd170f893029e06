"""HF Trainer's optimiser around gradient accumulation, for tests/train/scheduled_adamw_test.cpp.

Usage: accumulation_oracle.py CASE_JSON
CASE_JSON: {"W": [[...]], "b": [...], "X": [[...]], "Y": [[...]], "windows": [[[row, ...], ...], ...],
            "lr": float, "weight_decay": float, "scheduler": name, "warmup": int, "max_grad_norm": float}
Linear model y = X W^T + b, loss = mean squared error over a micro-batch's rows. Each window is one
optimizer update, as transformers' Trainer runs it: every micro-batch's loss divided by the number of
micro-batches in the window (Trainer.training_step: loss / current_gradient_accumulation_steps),
backward, then clip_grad_norm_, torch.optim.AdamW.step() and the get_scheduler step. The optimizer
has Trainer.create_optimizer's groups: weight decay on W, none on the bias b (get_decay_parameter_names).
Prints {"W": ..., "b": ..., "losses": [mean micro-batch loss per update], "torch": version}.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import get_scheduler


def main():
    case = json.loads(sys.argv[1])
    W = torch.nn.Parameter(torch.tensor(case["W"], dtype=torch.float32))
    b = torch.nn.Parameter(torch.tensor(case["b"], dtype=torch.float32))
    X = torch.tensor(case["X"], dtype=torch.float32)
    Y = torch.tensor(case["Y"], dtype=torch.float32)
    groups = [{"params": [W], "weight_decay": case["weight_decay"]}, {"params": [b], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=case["lr"])
    windows = case["windows"]
    sched = get_scheduler(case["scheduler"], opt, num_warmup_steps=case["warmup"], num_training_steps=len(windows))
    losses = []
    for window in windows:
        opt.zero_grad()
        total = 0.0
        for rows in window:
            idx = torch.tensor(rows)
            loss = torch.nn.functional.mse_loss(X[idx] @ W.T + b, Y[idx])
            total += loss.item()
            (loss / len(window)).backward()
        if case["max_grad_norm"] > 0:
            torch.nn.utils.clip_grad_norm_([W, b], case["max_grad_norm"])
        opt.step()
        sched.step()
        losses.append(total / len(window))
    print(json.dumps({"W": W.tolist(), "b": b.tolist(), "losses": losses, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
