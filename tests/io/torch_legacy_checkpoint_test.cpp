// The legacy torch.save stream (torch < 1.6, or _use_new_zipfile_serialization=False), written by
// Debian's python3-torch in the test: every shape real checkpoints take loads to the values (and
// bytes) python reports, through the same restricted unpickler as the zip format; damaged files are
// refused with one line naming the file.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <random>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/checkpoint_inspect.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/torch_checkpoint.h"
#include "support/test_support.h"
#include "torch_test_support.h"

using namespace mvb;
using namespace mvb::io;
using mvb::test::expect_identical;
using mvb::test::save_with_python;
using mvb::test::TempDir;

namespace {

// The error `path` gives, or "" when it loads.
std::string load_error(const std::string& path) {
  try {
    StateDict sd = open_torch_checkpoint(path);
    for (const auto& n : sd.names()) sd.get(n);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

}  // namespace

TEST(TorchLegacyCheckpoint, OrderedDictStateDictOfARealModule) {
  TempDir d;
  io::create_directories(d / "rawdir");
  const auto expected = save_with_python(R"PY(
m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4, 2))
m[1].running_mean.uniform_(); m[1].num_batches_tracked += 5
sd = m.state_dict()
assert isinstance(sd, collections.OrderedDict)
torch.save(sd, sys.argv[1], _use_new_zipfile_serialization=False)
dump(sd)
)PY",
                                         d / "pytorch_model.bin", d / "rawdir");
  ASSERT_EQ(torch_checkpoint_format(d / "pytorch_model.bin"), TorchCheckpointFormat::kLegacy);
  StateDict sd = open_torch_checkpoint(d / "pytorch_model.bin");
  expect_identical(sd, expected, d / "rawdir");
  EXPECT_EQ(sd.names().front(), "0.weight");  // file order kept
  EXPECT_EQ(sd.get("1.num_batches_tracked").item<int64_t>(), 5);
  // Lazy: the tensors are byte ranges of the mapped file, not copies.
  EXPECT_EQ(sd.record("0.weight").file->path(), d / "pytorch_model.bin");
  EXPECT_EQ(sd.record("0.weight").bytes, 4u * 3 * 3 * 3 * 4);
  // Folder lookup and `check --model_path` (inspect_checkpoint) read it too.
  EXPECT_EQ(StateDict::open(d.path()).size(), sd.size());
  mvb::test::write_text(d / "config.json", R"({"architectures": ["TinyConvNet"]})");
  const CheckpointSummary s = inspect_checkpoint(d.path());
  EXPECT_EQ(s.architecture, "TinyConvNet");
  EXPECT_EQ(s.tensors, static_cast<int64_t>(sd.size()));
  EXPECT_EQ(s.parameters, 4 * 3 * 3 * 3 + 4 + 4 * 4 + 1 + 2 * 4 + 2);
  EXPECT_EQ(s.dtypes.at("F32"), 8);
  EXPECT_EQ(s.dtypes.at("I64"), 1);
  EXPECT_TRUE(s.problems.empty()) << s.to_json().dump();
}

TEST(TorchLegacyCheckpoint, OneEntryDictAndEveryDtype) {
  TempDir d;
  io::create_directories(d / "raw1");
  io::create_directories(d / "raw2");
  const auto one = save_with_python(R"PY(
sd = {"w": torch.randn(3, 2)}
torch.save(sd, sys.argv[1], _use_new_zipfile_serialization=False); dump(sd)
)PY",
                                    d / "one.pt", d / "raw1");
  expect_identical(open_torch_checkpoint(d / "one.pt"), one, d / "raw1");
  // int64 beyond 2^53, -0.0 and subnormals are checked bit for bit through the raw bytes.
  const auto many = save_with_python(R"PY(
sd = collections.OrderedDict([("h", torch.randn(4, 5).half()), ("b", torch.randn(7).bfloat16()),
                              ("d", torch.randn(2).double()), ("i", torch.arange(6, dtype=torch.int32)),
                              ("l", torch.tensor([-2**62 - 1, 2**62 + 3, 7])), ("u", torch.arange(250, 256).to(torch.uint8)),
                              ("m", torch.tensor([True, False, True])), ("special", torch.tensor([-0.0, 1e-40, 3e38]))])
torch.save(sd, sys.argv[1], _use_new_zipfile_serialization=False); dump(sd)
)PY",
                                     d / "many.pth", d / "raw2");
  StateDict sd = open_torch_checkpoint(d / "many.pth");
  expect_identical(sd, many, d / "raw2");
  EXPECT_EQ(sd.get("l")[0].item<int64_t>(), -(int64_t{1} << 62) - 1);
}

TEST(TorchLegacyCheckpoint, NonContiguousAndSharedStorages) {
  TempDir d;
  io::create_directories(d / "raw");
  const auto expected = save_with_python(R"PY(
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
torch.save(sd, sys.argv[1], _use_new_zipfile_serialization=False); dump(sd)
)PY",
                                         d / "views.bin", d / "raw");
  StateDict sd = open_torch_checkpoint(d / "views.bin");
  expect_identical(sd, expected, d / "raw");
  // One storage, one byte range: the tensors on it share its key and its bytes in the file.
  EXPECT_EQ(sd.record("t").storage_key, sd.record("base").storage_key);
  EXPECT_EQ(sd.record("row").offset, sd.record("base").offset);
  EXPECT_NE(sd.record("other").storage_key, sd.record("base").storage_key);
  EXPECT_EQ(sd.record("row").storage_offset, 8);
  EXPECT_EQ(sd.record("other").storage_offset, 3);
  EXPECT_EQ(sd.get("t").strides().vec(), (std::vector<int64_t>{1, 4}));
}

TEST(TorchLegacyCheckpoint, StorageViewsOfOneRoot) {
  TempDir d;
  io::create_directories(d / "raw");
  // Written by hand as torch < 1.0 could (view_metadata set; newer writers always save None), and
  // read back by torch.load as the oracle: slices [4, 12) and [12, 20) of one float root, the root
  // itself, and a half-precision view at an odd element offset.
  const auto expected = save_with_python(R"PY(
import pickle, struct
class View:
    def __init__(self, root, view):
        self.root, self.view = root, view
class Rebuild:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())
    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)
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
with open(sys.argv[1], "wb") as f:
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
loaded = torch.load(sys.argv[1])
assert loaded["a"][0, 0] == 5 and loaded["b"][0] == 14
dump(loaded)
)PY",
                                         d / "sliced.pt", d / "raw");
  StateDict sd = open_torch_checkpoint(d / "sliced.pt");
  expect_identical(sd, expected, d / "raw");
  EXPECT_EQ(sd.record("a").storage_key, sd.record("whole").storage_key);
  EXPECT_EQ(sd.record("a").offset, sd.record("whole").offset + 4 * 4);
  EXPECT_EQ(sd.record("a").bytes, 8u * 4);
  EXPECT_EQ(sd.record("h").bytes, 5u * 2);
  // A view that reaches past its root is refused.
  std::string bytes = mvb::test::read_text(d / "sliced.pt");
  const size_t at = bytes.find(std::string("X\x02\x00\x00\x00v2", 7));
  ASSERT_NE(at, std::string::npos);
  // The view tuple is (BINUNICODE 'v2', [BINPUT n], BININT1 12, BININT1 8): make the offset 15.
  const size_t k = bytes.find('K', at + 7);
  ASSERT_NE(k, std::string::npos);
  ASSERT_EQ(bytes[k + 1], 12);
  bytes[k + 1] = 15;
  mvb::test::write_text(d / "outside.pt", bytes);
  const std::string e = load_error(d / "outside.pt");
  EXPECT_NE(e.find("outside storage"), std::string::npos) << e;
  EXPECT_NE(e.find(d / "outside.pt"), std::string::npos) << e;
}

TEST(TorchLegacyCheckpoint, NestedTrainingCheckpointsAreUnwrapped) {
  TempDir d;
  const auto expected = save_with_python(R"PY(
inner = torch.nn.Linear(3, 2).state_dict()
ckpt = {"epoch": 7, "state_dict": inner, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
        "best": 0.93, "name": "x", "flags": (True, None)}
torch.save(ckpt, sys.argv[1], _use_new_zipfile_serialization=False); dump(inner)
)PY",
                                         d / "ckpt.pth");
  expect_identical(open_torch_checkpoint(d / "ckpt.pth"), expected);
  const auto nested = save_with_python(R"PY(
obj = {"vision": {"w": torch.ones(2)}, "heads": [torch.zeros(1), torch.arange(3)]}
torch.save(obj, sys.argv[1], _use_new_zipfile_serialization=False)
dump({"vision.w": obj["vision"]["w"], "heads.0": obj["heads"][0], "heads.1": obj["heads"][1]})
)PY",
                                       d / "n.pt");
  expect_identical(open_torch_checkpoint(d / "n.pt"), nested);
  // nn.Parameter objects saved directly.
  const auto params = save_with_python(R"PY(
lin = torch.nn.Linear(2, 2)
obj = {"weight": lin.weight, "bias": lin.bias}
torch.save(obj, sys.argv[1], _use_new_zipfile_serialization=False); dump({k: v.detach() for k, v in obj.items()})
)PY",
                                       d / "p.pt");
  expect_identical(open_torch_checkpoint(d / "p.pt"), params);
}

TEST(TorchLegacyCheckpoint, RefusesCodeExecutingGlobalsAndWholeModules) {
  TempDir d;
  auto r = mvb::test::run_python(R"PY(
import os, sys, torch
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[1] + ".pwned",))
torch.save({"w": torch.ones(2), "evil": Evil()}, sys.argv[1], _use_new_zipfile_serialization=False)
torch.save(torch.nn.Linear(2, 2), sys.argv[2], _use_new_zipfile_serialization=False)
)PY",
                                 {d / "evil.pt", d / "module.pt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string e = load_error(d / "evil.pt");
  EXPECT_NE(e.find("refusing to load checkpoint " + d / "evil.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("system"), std::string::npos) << e;
  EXPECT_FALSE(io::exists(d / "evil.pt.pwned"));
  e = load_error(d / "module.pt");
  EXPECT_NE(e.find("refusing"), std::string::npos) << e;
  EXPECT_NE(e.find("torch.nn.modules.linear.Linear"), std::string::npos) << e;
}

TEST(TorchLegacyCheckpoint, TruncatedAndCorruptedFilesAreRefusedCleanly) {
  TempDir d;
  auto r = mvb::test::run_python(R"PY(
import collections, sys, torch
sd = collections.OrderedDict([("w", torch.arange(12.0).view(3, 4)), ("b", torch.ones(3).half())])
torch.save(sd, sys.argv[1], _use_new_zipfile_serialization=False)
)PY",
                                 {d / "ok.pt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string ok = mvb::test::read_text(d / "ok.pt");
  ASSERT_EQ(load_error(d / "ok.pt"), "");
  const std::string cut = d / "cut.pt";
  // Every prefix: header pickles, object pickle, key list, counts and data all cut somewhere.
  for (size_t len = 0; len < ok.size(); ++len) {
    mvb::test::write_text(cut, ok.substr(0, len));
    const std::string e = load_error(cut);
    ASSERT_FALSE(e.empty()) << "a " << len << "-byte prefix loaded";
    ASSERT_NE(e.find(cut), std::string::npos) << e;
    ASSERT_EQ(e.find('\n'), std::string::npos) << e;
  }
  mvb::test::write_text(cut, ok.substr(0, ok.size() - 1));
  EXPECT_NE(load_error(cut).find("truncated checkpoint " + cut), std::string::npos) << load_error(cut);
  // Trailing bytes after the last storage are ignored, as torch.load does.
  mvb::test::write_text(d / "extra.pt", ok + "tail");
  EXPECT_EQ(load_error(d / "extra.pt"), "");

  auto mutated = [&](size_t pos, char c) {
    std::string s = ok;
    s[pos] = c;
    mvb::test::write_text(d / "bad.pt", s);
    return load_error(d / "bad.pt");
  };
  // Bad magic number: not recognised as a torch.save file at all.
  EXPECT_NE(mutated(5, 'x').find("not a PyTorch checkpoint: " + d / "bad.pt"), std::string::npos);
  // Protocol version 1001 -> 1002.
  ASSERT_EQ(ok.substr(17, 3), "M\xe9\x03");
  EXPECT_NE(mutated(18, '\xea').find("protocol version 1002"), std::string::npos) << mutated(18, '\xea');
  // The element count in front of w's storage (12, then 0.0f and 1.0f) no longer matches the pickle.
  const size_t count_at = ok.find(std::string("\x0c\0\0\0\0\0\0\0\0\0\0\0\0\0\x80\x3f", 16));
  ASSERT_NE(count_at, std::string::npos);
  EXPECT_NE(mutated(count_at, 13).find("holds 13 elements but the tensors expect 12"), std::string::npos)
      << mutated(count_at, 13);

  // Random damage anywhere: it loads or is refused with an mvb::Error, never crashes.
  std::mt19937 rng(7);
  for (int iter = 0; iter < 500; ++iter) {
    std::string s = ok;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) s[rng() % s.size()] = static_cast<char>(rng() % 256);
    mvb::test::write_text(d / "fuzz.pt", s);
    load_error(d / "fuzz.pt");
  }
}

TEST(TorchLegacyCheckpoint, FormatIsToldByMagicBytesNotExtension) {
  TempDir d;
  auto r = mvb::test::run_python(R"PY(
import io, sys, tarfile, torch
torch.save({"w": torch.ones(2)}, sys.argv[1], _use_new_zipfile_serialization=False)   # legacy, named .zip
torch.save({"w": torch.ones(2)}, sys.argv[2])                                         # zip, named .legacy
# The tar layout of the earliest torch.save (members storages, tensors, pickle).
with tarfile.open(sys.argv[3], "w", format=tarfile.PAX_FORMAT) as t:
    for name in ("storages", "tensors", "pickle"):
        data = b"\x80\x02K\x00."
        info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
)PY",
                                 {d / "weights.zip", d / "weights.legacy", d / "old.pt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(torch_checkpoint_format(d / "weights.zip"), TorchCheckpointFormat::kLegacy);
  EXPECT_EQ(torch_checkpoint_format(d / "weights.legacy"), TorchCheckpointFormat::kZip);
  EXPECT_TRUE(at::equal(open_torch_checkpoint(d / "weights.zip").get("w"), at::ones({2})));
  EXPECT_TRUE(at::equal(open_torch_checkpoint(d / "weights.legacy").get("w"), at::ones({2})));
  EXPECT_EQ(torch_checkpoint_format(d / "old.pt"), TorchCheckpointFormat::kTar);
  const std::string e = load_error(d / "old.pt");
  EXPECT_NE(e.find("tar-based"), std::string::npos) << e;
  EXPECT_NE(e.find(d / "old.pt"), std::string::npos) << e;
}
