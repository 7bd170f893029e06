"""Shared by every fixture generator that runs a real library (run with the oracle environment,
`bash scripts/oracle_env.sh` -> .venv/bin/python).

A parity fixture is a folder holding a checkpoint in its real published layout plus:
  expected.safetensors  the library's inputs ("input.<name>") and outputs ("output.<name>"),
                        which the C++ tests read (no live oracle in the test run);
  fixture.json          what produced it: generator, library and version, the calls made, and the
                        tolerance the C++ test holds it to with the largest difference measured.
"""
import importlib.metadata
import json
import os

from safetensors.torch import save_file


def versions(*packages):
    """{package: installed version} for the packages that produced a fixture (torch always)."""
    out = {"torch": importlib.metadata.version("torch")}
    for p in packages:
        out[p] = importlib.metadata.version(p)
    return out


def save_expected(folder, inputs, outputs, name="expected.safetensors"):
    """Writes inputs and outputs (dicts of tensors) as contiguous CPU tensors to one safetensors file."""
    tensors = {}
    for prefix, group in (("input.", inputs), ("output.", outputs)):
        for k, v in group.items():
            tensors[prefix + k] = v.detach().cpu().contiguous()
    save_file(tensors, os.path.join(folder, name), metadata={"format": "pt"})


def write_fixture_json(folder, **fields):
    """fixture.json with sorted keys. Expected fields: generator, library ({package: version}),
    oracle (the library calls made), weights, and where known tolerance / max_abs_diff_measured.
    A fixture whose oracle is a port of ours must carry why_no_library."""
    assert "library" in fields or "why_no_library" in fields, "name the library, or say why none runs"
    assert "provisional" not in fields, "provisional fixtures are retired"
    with open(os.path.join(folder, "fixture.json"), "w") as f:
        json.dump(fields, f, indent=2, sort_keys=True)
        f.write("\n")
