#!/usr/bin/env python3
"""Live oracle for tests/nn/lora_embedding_test.cpp: PEFT's own LoRA Embedding layer (peft.tuners.lora
.Embedding, what get_peft_model puts on an nn.Embedding target) run on the C++ test's tensors.

  peft_embedding_oracle.py IN.safetensors OUT.safetensors R ALPHA

  IN:  weight [N, D], A [r, N], B [D, r], ids (int64, any shape)
  OUT: out (forward on ids, train mode: PEFT applies no dropout to embeddings), table (forward on
       arange(N)), merged (the base weight after merge_adapter()), init_a_abs_sum / init_b_std (PEFT's
       initial lora_embedding_A / lora_embedding_B, before IN's values are copied in)
Run with the oracle environment (.venv/bin/python).
"""
import sys

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file


class Holder(torch.nn.Module):
    def __init__(self, n, d):
        super().__init__()
        self.emb = torch.nn.Embedding(n, d)

    def forward(self, ids):
        return self.emb(ids)


def main(inp, out, r, alpha):
    t = load_file(inp)
    n, d = t["weight"].shape
    torch.manual_seed(0)
    model = get_peft_model(Holder(n, d), LoraConfig(r=int(r), lora_alpha=float(alpha), lora_dropout=0.05,
                                                    target_modules=["emb"]))
    layer = model.base_model.model.emb
    init_a = float(layer.lora_embedding_A["default"].detach().abs().sum())
    init_b_std = float(layer.lora_embedding_B["default"].detach().std())
    with torch.no_grad():
        layer.base_layer.weight.copy_(t["weight"])
        layer.lora_embedding_A["default"].copy_(t["A"])
        layer.lora_embedding_B["default"].copy_(t["B"])
        model.train()
        result = model(t["ids"])
        table = model(torch.arange(n))
        model.merge_adapter()
        merged = layer.base_layer.weight.clone()
    save_file({"out": result.contiguous(), "table": table.contiguous(), "merged": merged.contiguous(),
               "init_a_abs_sum": torch.tensor([init_a]), "init_b_std": torch.tensor([init_b_std])}, out)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
