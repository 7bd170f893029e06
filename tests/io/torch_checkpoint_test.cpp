// torch.save checkpoints written by Debian's python3-torch in the test, in the shapes real checkpoints
// take, must load to identical values; anything that is not weights must be refused.
#include "medvlmbench/io/torch_checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <random>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/torch_pickle.h"
#include "support/test_support.h"
#include "torch_test_support.h"

using namespace mvb;
using namespace mvb::io;
using mvb::test::TempDir;

using mvb::test::expect_identical;
using mvb::test::save_with_python;

TEST(TorchCheckpoint, OrderedDictStateDictOfARealModule) {
  TempDir d;
  // model.state_dict() is an OrderedDict with _metadata, the case LibTorch's pickle_load rejects.
  const auto expected = save_with_python(R"PY(
m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4, 2))
m[1].running_mean.uniform_(); m[1].num_batches_tracked += 5
sd = m.state_dict()
assert isinstance(sd, collections.OrderedDict)
torch.save(sd, sys.argv[1])
dump(sd)
)PY",
                                         d / "pytorch_model.bin");
  StateDict sd = open_torch_checkpoint(d / "pytorch_model.bin");
  expect_identical(sd, expected);
  EXPECT_EQ(sd.names().front(), "0.weight");  // file order kept
  EXPECT_EQ(sd.get("1.num_batches_tracked").item<int64_t>(), 5);
  // Folder lookup finds pytorch_model.bin.
  EXPECT_EQ(StateDict::open(d.path()).size(), sd.size());
}

TEST(TorchCheckpoint, OneEntryDictAndHalfPrecisions) {
  TempDir d;
  const auto one = save_with_python(R"PY(
sd = {"w": torch.randn(3, 2)}
torch.save(sd, sys.argv[1]); dump(sd)
)PY",
                                    d / "one.pt");
  expect_identical(open_torch_checkpoint(d / "one.pt"), one);
  const auto half = save_with_python(R"PY(
sd = collections.OrderedDict([("h", torch.randn(4, 5).half()), ("b", torch.randn(7).bfloat16()),
                              ("d", torch.randn(2).double()), ("i", torch.arange(6, dtype=torch.int32)),
                              ("u", torch.arange(250, 256).to(torch.uint8)), ("m", torch.tensor([True, False]))])
torch.save(sd, sys.argv[1]); dump(sd)
)PY",
                                     d / "half.pth");
  expect_identical(open_torch_checkpoint(d / "half.pth"), half);
}

TEST(TorchCheckpoint, NonContiguousAndSharedStorages) {
  TempDir d;
  const auto expected = save_with_python(R"PY(
base = torch.randn(6, 4)
sd = collections.OrderedDict()
sd["t"] = base.t()                 # transposed view
sd["row"] = base[2]                # offset into shared storage
sd["cols"] = base[:, 1::2]         # strided view
sd["base"] = base
sd["tied"] = base                  # tied weights: same tensor twice
sd["scalar"] = torch.tensor(2.5)
sd["empty"] = torch.empty(0, 3)
torch.save(sd, sys.argv[1]); dump(sd)
)PY",
                                         d / "views.bin");
  StateDict sd = open_torch_checkpoint(d / "views.bin");
  expect_identical(sd, expected);
  EXPECT_EQ(sd.record("t").storage_key, sd.record("base").storage_key);
  EXPECT_EQ(sd.record("row").storage_offset, 8);
  EXPECT_EQ(sd.get("t").strides().vec(), (std::vector<int64_t>{1, 4}));
}

TEST(TorchCheckpoint, NestedTrainingCheckpointsAreUnwrapped) {
  TempDir d;
  const auto expected = save_with_python(R"PY(
inner = torch.nn.Linear(3, 2).state_dict()
ckpt = {"epoch": 7, "state_dict": inner, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
        "best": 0.93, "name": "x", "flags": (True, None)}
torch.save(ckpt, sys.argv[1]); dump(inner)
)PY",
                                         d / "ckpt.pth");
  expect_identical(open_torch_checkpoint(d / "ckpt.pth"), expected);
  const auto model_wrapped = save_with_python(R"PY(
inner = collections.OrderedDict([("module.enc.weight", torch.randn(2, 2))])
torch.save({"model": inner, "step": 10**12}, sys.argv[1]); dump(inner)
)PY",
                                              d / "m.pt");
  expect_identical(open_torch_checkpoint(d / "m.pt"), model_wrapped);
  // Other nesting is flattened with dots.
  const auto nested = save_with_python(R"PY(
obj = {"vision": {"w": torch.ones(2)}, "heads": [torch.zeros(1), torch.arange(3)]}
torch.save(obj, sys.argv[1]); dump({"vision.w": obj["vision"]["w"], "heads.0": obj["heads"][0], "heads.1": obj["heads"][1]})
)PY",
                                       d / "n.pt");
  expect_identical(open_torch_checkpoint(d / "n.pt"), nested);
}

TEST(TorchCheckpoint, ParametersSavedDirectly) {
  TempDir d;
  const auto expected = save_with_python(R"PY(
lin = torch.nn.Linear(2, 2)
obj = {"weight": lin.weight, "bias": lin.bias}   # nn.Parameter objects, not detached tensors
torch.save(obj, sys.argv[1]); dump({k: v.detach() for k, v in obj.items()})
)PY",
                                         d / "p.pt");
  expect_identical(open_torch_checkpoint(d / "p.pt"), expected);
}

TEST(TorchCheckpoint, RefusesCodeExecutingGlobals) {
  TempDir d;
  auto r = mvb::test::run_python(R"PY(
import os, sys, torch
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[1] + ".pwned",))
torch.save({"w": torch.ones(2), "evil": Evil()}, sys.argv[1])
)PY",
                                 {d / "evil.pt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  try {
    open_torch_checkpoint(d / "evil.pt");
    FAIL() << "a checkpoint calling os.system must be refused";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("system"), std::string::npos) << m;
    EXPECT_NE(m.find("refusing"), std::string::npos) << m;
  }
  EXPECT_FALSE(io::exists(d / "evil.pt.pwned"));
}

TEST(TorchCheckpoint, TruncatedAndForeignFilesGiveClearErrors) {
  TempDir d;
  auto r = mvb::test::run_python(R"PY(
import sys, torch
torch.save({"w": torch.ones(64), "b": torch.ones(1)}, sys.argv[1])
)PY",
                                 {d / "ok.pt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string ok = mvb::test::read_text(d / "ok.pt");
  ASSERT_EQ(open_torch_checkpoint(d / "ok.pt").size(), 2u);
  for (size_t len : {size_t{0}, size_t{3}, size_t{100}, ok.size() / 2, ok.size() - 30}) {
    mvb::test::write_text(d / "cut.pt", ok.substr(0, len));
    EXPECT_THROW(open_torch_checkpoint(d / "cut.pt"), Error) << len;
  }
  mvb::test::write_text(d / "text.bin", "hello, not a checkpoint");
  try {
    open_torch_checkpoint(d / "text.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a PyTorch checkpoint: " + d / "text.bin"), std::string::npos) << e.what();
  }
}

TEST(TorchPickle, MutatedPicklesNeverCrash) {
  TempDir d;
  // The data.pkl of a real torch.save archive, mutated at random: each must either load or raise
  // mvb::Error (the unpickler is the part that parses attacker-controlled bytes).
  auto r = mvb::test::run_python(R"PY(
import collections, io, sys, torch, zipfile
sd = collections.OrderedDict([("a.weight", torch.randn(3, 2)), ("a.bias", torch.zeros(3)), ("n", torch.tensor(4))])
buf = io.BytesIO(); torch.save(sd, buf)
z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
open(sys.argv[1], "wb").write(z.read([n for n in z.namelist() if n.endswith("data.pkl")][0]))
)PY",
                                 {d / "data.pkl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string pkl = mvb::test::read_text(d / "data.pkl");
  auto storage = [](const pickle::ValuePtr&) {
    auto s = pickle::Value::make(pickle::Value::Kind::kStorage);
    s->tensor.dtype = at::kFloat;
    return s;
  };
  const auto& ok = pickle::unpickle(reinterpret_cast<const uint8_t*>(pkl.data()), pkl.size(), storage, "t");
  ASSERT_EQ(ok->kind, pickle::Value::Kind::kDict);
  EXPECT_EQ(ok->entries.size(), 3u);
  std::mt19937 rng(99);
  int refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = pkl;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) s[rng() % s.size()] = static_cast<char>(rng() % 256);
    if (iter % 5 == 0) s.resize(rng() % s.size());
    try {
      pickle::unpickle(reinterpret_cast<const uint8_t*>(s.data()), s.size(), storage, "t");
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 1000);
}

TEST(StateDictRecord, ViewsOutsideTheirStorageAreRefused) {
  TempDir d;
  mvb::test::write_text(d / "blob", std::string(64, '\0'));
  StateDict sd;
  TensorRecord r;
  r.file = MappedFile::open(d / "blob");
  r.bytes = 16;  // 4 floats
  r.shape = {2, 2};
  r.strides = {2, 1};
  r.storage_offset = 1;  // last element would be index 4
  sd.add("bad", r);
  r.storage_offset = 0;
  sd.add("good", r);
  EXPECT_THROW(sd.get("bad"), Error);
  EXPECT_EQ(sd.get("good").sizes(), (at::IntArrayRef{2, 2}));
}

TEST(TorchCheckpoint, CyclicContainersAreRefusedCleanly) {
  TempDir d;
  auto r = mvb::test::run_python(R"PY(
import sys, torch
l = []; l.append(l)
torch.save({"w": torch.ones(2), "loop": l}, sys.argv[1])
)PY",
                                 {d / "cyc.pt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  try {
    open_torch_checkpoint(d / "cyc.pt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cyc.pt"), std::string::npos) << e.what();
  }
}

TEST(TorchCheckpoint, RecompressedArchiveIsRefusedNotMisread) {
  TempDir d;
  // The same checkpoint re-zipped with deflate: mapping its storages would read compressed bytes.
  auto r = mvb::test::run_python(R"PY(
import sys, torch, zipfile
torch.save({"w": torch.arange(4096.0), "b": torch.ones(2)}, sys.argv[1])
src = zipfile.ZipFile(sys.argv[1])
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as dst:
    for n in src.namelist():
        dst.writestr(n, src.read(n))
)PY",
                                 {d / "ok.pt", d / "deflated.pt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(at::equal(open_torch_checkpoint(d / "ok.pt").get("w"), at::arange(4096.0)));
  try {
    StateDict sd = open_torch_checkpoint(d / "deflated.pt");
    FAIL() << "a deflated archive must not load";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("compressed"), std::string::npos) << e.what();
  }
}
