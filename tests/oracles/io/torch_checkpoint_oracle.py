#!/usr/bin/python3
"""torch.save checkpoints written by Debian's python3-torch (/usr/bin/python3), in the shapes real
checkpoints take, for tests/io/torch_checkpoint_test.cpp, torch_legacy_checkpoint_test.cpp and
checkpoint_inspect_test.cpp.

usage: torch_checkpoint_oracle.py [--legacy] CASE ARG...
  --legacy: save() writes the legacy stream of torch < 1.6 (_use_new_zipfile_serialization=False)
            instead of the zip archive; only the cases marked (save) honour it.
  Cases that print (dump) report {name: [dtype, shape, flat values as float64]} of the tensors the
  loader should expose and, given a second argument RAW (a folder), write each tensor's contiguous
  bytes to RAW/<name>.

  (save) module-state-dict PATH [RAW]  an nn.Module's state_dict() (OrderedDict with _metadata)
  (save) one-entry PATH [RAW]          {"w": randn(3, 2)}
  (save) every-dtype PATH [RAW]        half, bfloat16, double, int32, int64 beyond 2^53, uint8, bool,
                                       -0.0 / subnormal / near-max floats
  (save) views PATH [RAW]              transposed, offset and strided views, tied and empty tensors
  (save) nested-training PATH          {"epoch", "state_dict", "optimizer", ...}; dumps the state_dict
  (save) model-wrapped PATH            {"model": OrderedDict, "step": 10**12}; dumps the model
  (save) nested PATH                   other nesting, dumped flattened with dots
  (save) parameters PATH               nn.Parameter objects saved directly
  (save) evil PATH MODULE_PATH         a code-executing global (os.system) in PATH, a whole nn.Linear
                                       in MODULE_PATH; nothing printed
  (save) cyclic PATH                   a self-containing list beside a tensor
  legacy-storage-views PATH [RAW]      a legacy stream pickled by hand as torch < 1.0 could (view
                                       metadata set), read back by torch.load as the oracle
  small-zip PATH                       torch.save({"w": ones(64), "b": ones(1)}) (zip)
  data-pkl PATH                        the data.pkl of a real torch.save archive
  deflated PATH DEFLATED_PATH          a checkpoint, and the same re-zipped with deflate
  small-legacy PATH                    a two-tensor OrderedDict in the legacy stream
  format-magic LEGACY.zip ZIP.legacy OLD.tar  formats under misleading names, and the earliest
                                       tar layout
  open-clip-names PATH                 an open_clip-named state dict (zip), no config
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import tarfile
import zipfile

import torch

ZIP = True
ARGS = []


def save(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=ZIP)


def dump(flat):
    if len(ARGS) > 1:
        for k, v in flat.items():
            open(os.path.join(ARGS[1], k), "wb").write(
                v.detach().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    print(json.dumps({k: [str(v.dtype).replace("torch.", ""), list(v.shape), v.double().flatten().tolist()]
                      for k, v in flat.items()}))


# --- (save) cases: torch.manual_seed(0) first, save() in the format asked for ---

def module_state_dict(path, raw=None):
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                            torch.nn.Linear(4, 2))
    m[1].running_mean.uniform_()
    m[1].num_batches_tracked += 5
    sd = m.state_dict()
    assert isinstance(sd, collections.OrderedDict)
    save(sd, path)
    dump(sd)


def one_entry(path, raw=None):
    sd = {"w": torch.randn(3, 2)}
    save(sd, path)
    dump(sd)


def every_dtype(path, raw=None):
    sd = collections.OrderedDict([("h", torch.randn(4, 5).half()), ("b", torch.randn(7).bfloat16()),
                                  ("d", torch.randn(2).double()), ("i", torch.arange(6, dtype=torch.int32)),
                                  ("l", torch.tensor([-2**62 - 1, 2**62 + 3, 7])),
                                  ("u", torch.arange(250, 256).to(torch.uint8)),
                                  ("m", torch.tensor([True, False, True])),
                                  ("special", torch.tensor([-0.0, 1e-40, 3e38]))])
    save(sd, path)
    dump(sd)


def views(path, raw=None):
    base = torch.randn(6, 4)
    sd = collections.OrderedDict()
    sd["t"] = base.t()                 # transposed view
    sd["row"] = base[2]                # offset into shared storage
    sd["cols"] = base[:, 1::2]         # strided view
    sd["base"] = base
    sd["tied"] = base                  # tied weights: same tensor twice
    sd["other"] = torch.arange(10.0)[3:7]   # a second storage, used at an offset
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.empty(0, 3)
    save(sd, path)
    dump(sd)


def nested_training(path):
    inner = torch.nn.Linear(3, 2).state_dict()
    ckpt = {"epoch": 7, "state_dict": inner,
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
            "best": 0.93, "name": "x", "flags": (True, None)}
    save(ckpt, path)
    dump(inner)


def model_wrapped(path):
    inner = collections.OrderedDict([("module.enc.weight", torch.randn(2, 2))])
    save({"model": inner, "step": 10**12}, path)
    dump(inner)


def nested(path):
    obj = {"vision": {"w": torch.ones(2)}, "heads": [torch.zeros(1), torch.arange(3)]}
    save(obj, path)
    dump({"vision.w": obj["vision"]["w"], "heads.0": obj["heads"][0], "heads.1": obj["heads"][1]})


def parameters(path):
    lin = torch.nn.Linear(2, 2)
    obj = {"weight": lin.weight, "bias": lin.bias}   # nn.Parameter objects, not detached tensors
    save(obj, path)
    dump({k: v.detach() for k, v in obj.items()})


class Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, ("touch " + self.path + ".pwned",))


def evil(path, module_path):
    save({"w": torch.ones(2), "evil": Evil(path)}, path)
    save(torch.nn.Linear(2, 2), module_path)


def cyclic(path):
    loop = []
    loop.append(loop)
    save({"w": torch.ones(2), "loop": loop}, path)


# A legacy stream written with python's pickle by hand, as torch < 1.0 could (view_metadata set;
# newer writers always save None): slices [4, 12) and [12, 20) of one float root, the root itself,
# and a half-precision view at an odd element offset.
class View:
    def __init__(self, root, view):
        self.root, self.view = root, view


class Rebuild:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def legacy_storage_views(path, raw=None):
    roots = {"140001": torch.arange(20, dtype=torch.float32), "140002": torch.randn(9).half()}
    types = {"140001": torch.FloatStorage, "140002": torch.HalfStorage}

    def persistent_id(obj):
        if isinstance(obj, View):
            return ("storage", types[obj.root], obj.root, "cpu", roots[obj.root].numel(), obj.view)
        return None

    obj = collections.OrderedDict()
    obj["a"] = Rebuild(View("140001", ("v1", 4, 8)), 1, (2, 3), (3, 1))
    obj["b"] = Rebuild(View("140001", ("v2", 12, 8)), 2, (3,), (2,))
    obj["whole"] = Rebuild(View("140001", None), 0, (4, 5), (5, 1))
    obj["h"] = Rebuild(View("140002", ("v3", 3, 5)), 1, (2, 2), (1, 2))
    with open(path, "wb") as f:
        for header in (0x1950a86a20f9469cfc6c, 1001, dict(protocol_version=1001, little_endian=True,
                                                           type_sizes=dict(short=2, int=4, long=8))):
            pickle.dump(header, f, protocol=2)
        p = pickle.Pickler(f, protocol=2)
        p.persistent_id = persistent_id
        p.dump(obj)
        keys = sorted(roots)
        pickle.dump(keys, f, protocol=2)
        for k in keys:
            f.write(struct.pack("<q", roots[k].numel()))
            f.write(roots[k].numpy().tobytes())
    loaded = torch.load(path)
    assert loaded["a"][0, 0] == 5 and loaded["b"][0] == 14
    dump(loaded)


SEEDED = {"module-state-dict": module_state_dict, "one-entry": one_entry, "every-dtype": every_dtype,
          "views": views, "nested-training": nested_training, "model-wrapped": model_wrapped, "nested": nested,
          "parameters": parameters, "evil": evil, "cyclic": cyclic, "legacy-storage-views": legacy_storage_views}


# --- fixed-format generators (not seeded) ---

def small_zip(path):
    torch.save({"w": torch.ones(64), "b": torch.ones(1)}, path)


def data_pkl(path):
    sd = collections.OrderedDict([("a.weight", torch.randn(3, 2)), ("a.bias", torch.zeros(3)),
                                  ("n", torch.tensor(4))])
    buf = io.BytesIO()
    torch.save(sd, buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    open(path, "wb").write(z.read([n for n in z.namelist() if n.endswith("data.pkl")][0]))


def deflated(path, deflated_path):
    torch.save({"w": torch.arange(4096.0), "b": torch.ones(2)}, path)
    src = zipfile.ZipFile(path)
    with zipfile.ZipFile(deflated_path, "w", zipfile.ZIP_DEFLATED) as dst:
        for n in src.namelist():
            dst.writestr(n, src.read(n))


def small_legacy(path):
    sd = collections.OrderedDict([("w", torch.arange(12.0).view(3, 4)), ("b", torch.ones(3).half())])
    torch.save(sd, path, _use_new_zipfile_serialization=False)


def format_magic(legacy_named_zip, zip_named_legacy, old_tar):
    torch.save({"w": torch.ones(2)}, legacy_named_zip, _use_new_zipfile_serialization=False)
    torch.save({"w": torch.ones(2)}, zip_named_legacy)
    # The tar layout of the earliest torch.save (members storages, tensors, pickle).
    with tarfile.open(old_tar, "w", format=tarfile.PAX_FORMAT) as t:
        for name in ("storages", "tensors", "pickle"):
            data = b"\x80\x02K\x00."
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def open_clip_names(path):
    sd = collections.OrderedDict([("visual.transformer.resblocks.0.attn.in_proj_weight", torch.zeros(6, 2)),
                                  ("logit_scale", torch.ones(()))])
    torch.save(sd, path)


UNSEEDED = {"small-zip": small_zip, "data-pkl": data_pkl, "deflated": deflated, "small-legacy": small_legacy,
            "format-magic": format_magic, "open-clip-names": open_clip_names}


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[:1] == ["--legacy"]:
        ZIP = False
        argv = argv[1:]
    if not argv or argv[0] not in {**SEEDED, **UNSEEDED}:
        sys.exit(__doc__)
    ARGS = argv[1:]
    if argv[0] in SEEDED:
        torch.manual_seed(0)
        SEEDED[argv[0]](*ARGS)
    else:
        UNSEEDED[argv[0]](*ARGS)
