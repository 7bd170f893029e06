// torch.save checkpoints written by Debian's python3-torch in the test
// (tests/oracles/io/torch_checkpoint_oracle.py), in the shapes real checkpoints take, must load to
// identical values (and bytes) in both formats — the zip archive of torch >= 1.6 and the legacy
// stream before it; anything that is not weights must be refused. Format-specific damage: below for
// zip, torch_legacy_checkpoint_test.cpp for the legacy stream.
#include "medvlmbench/io/torch_checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <random>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/checkpoint_inspect.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/torch_pickle.h"
#include "support/test_support.h"
#include "torch_test_support.h"

using namespace mvb;
using namespace mvb::io;
using mvb::test::expect_identical;
using mvb::test::TempDir;

namespace {

// Parameter: true for the zip format, false for the legacy stream (_use_new_zipfile_serialization=False).
class TorchCheckpointFormats : public ::testing::TestWithParam<bool> {
 protected:
  bool zip() const { return GetParam(); }
  // Runs the oracle case `name` (tests/oracles/io/torch_checkpoint_oracle.py), whose save() writes this
  // format; `raw` (a folder made here) receives the bytes.
  nlohmann::json save(const std::string& name, const std::string& path, const std::string& raw = "") {
    if (!raw.empty()) io::create_directories(raw);
    return mvb::test::save_with_python(name, path, raw, zip());
  }
  std::string error_of(const std::string& path) {
    try {
      open_torch_checkpoint(path);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  }
  TempDir d;
};

INSTANTIATE_TEST_SUITE_P(Formats, TorchCheckpointFormats, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Zip" : "Legacy"; });

}  // namespace

TEST_P(TorchCheckpointFormats, OrderedDictStateDictOfARealModule) {
  // model.state_dict() is an OrderedDict with _metadata, the case LibTorch's pickle_load rejects.
  const auto expected = save("module-state-dict", d / "pytorch_model.bin", d / "raw");
  EXPECT_EQ(torch_checkpoint_format(d / "pytorch_model.bin"),
            zip() ? TorchCheckpointFormat::kZip : TorchCheckpointFormat::kLegacy);
  StateDict sd = open_torch_checkpoint(d / "pytorch_model.bin");
  expect_identical(sd, expected, d / "raw");
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

TEST_P(TorchCheckpointFormats, OneEntryDictAndEveryDtype) {
  const auto one = save("one-entry", d / "one.pt", d / "raw1");
  expect_identical(open_torch_checkpoint(d / "one.pt"), one, d / "raw1");
  // int64 beyond 2^53, -0.0 and subnormals are checked bit for bit through the raw bytes.
  const auto many = save("every-dtype", d / "many.pth", d / "raw2");
  StateDict sd = open_torch_checkpoint(d / "many.pth");
  expect_identical(sd, many, d / "raw2");
  EXPECT_EQ(sd.get("l")[0].item<int64_t>(), -(int64_t{1} << 62) - 1);
}

TEST_P(TorchCheckpointFormats, NonContiguousAndSharedStorages) {
  const auto expected = save("views", d / "views.bin", d / "raw");
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

TEST_P(TorchCheckpointFormats, NestedTrainingCheckpointsAreUnwrapped) {
  const auto expected = save("nested-training", d / "ckpt.pth");
  expect_identical(open_torch_checkpoint(d / "ckpt.pth"), expected);
  const auto model_wrapped = save("model-wrapped", d / "m.pt");
  expect_identical(open_torch_checkpoint(d / "m.pt"), model_wrapped);
  // Other nesting is flattened with dots.
  const auto nested = save("nested", d / "n.pt");
  expect_identical(open_torch_checkpoint(d / "n.pt"), nested);
}

TEST_P(TorchCheckpointFormats, ParametersSavedDirectly) {
  const auto expected = save("parameters", d / "p.pt");
  expect_identical(open_torch_checkpoint(d / "p.pt"), expected);
}

TEST_P(TorchCheckpointFormats, RefusesCodeExecutingGlobalsAndWholeModules) {
  auto r = mvb::test::run_torch_oracle("evil", {d / "evil.pt", d / "module.pt"}, zip());
  ASSERT_EQ(r.exit_code, 0);
  std::string e = error_of(d / "evil.pt");
  EXPECT_NE(e.find("refusing to load checkpoint " + d / "evil.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("system"), std::string::npos) << e;
  EXPECT_FALSE(io::exists(d / "evil.pt.pwned"));
  e = error_of(d / "module.pt");
  EXPECT_NE(e.find("refusing"), std::string::npos) << e;
  EXPECT_NE(e.find("torch.nn.modules.linear.Linear"), std::string::npos) << e;
}

TEST_P(TorchCheckpointFormats, CyclicContainersAreRefusedCleanly) {
  auto r = mvb::test::run_torch_oracle("cyclic", {d / "cyc.pt"}, zip());
  ASSERT_EQ(r.exit_code, 0);
  const std::string e = error_of(d / "cyc.pt");
  EXPECT_NE(e.find("cyc.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("nest deeper"), std::string::npos) << e;
}

TEST(TorchCheckpoint, TruncatedAndForeignFilesGiveClearErrors) {
  TempDir d;
  auto r = mvb::test::run_torch_oracle("small-zip", {d / "ok.pt"});
  ASSERT_EQ(r.exit_code, 0);
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
  auto r = mvb::test::run_torch_oracle("data-pkl", {d / "data.pkl"});
  ASSERT_EQ(r.exit_code, 0);
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

TEST(TorchCheckpoint, RecompressedArchiveIsRefusedNotMisread) {
  TempDir d;
  // The same checkpoint re-zipped with deflate: mapping its storages would read compressed bytes.
  auto r = mvb::test::run_torch_oracle("deflated", {d / "ok.pt", d / "deflated.pt"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(at::equal(open_torch_checkpoint(d / "ok.pt").get("w"), at::arange(4096.0)));
  try {
    StateDict sd = open_torch_checkpoint(d / "deflated.pt");
    FAIL() << "a deflated archive must not load";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("compressed"), std::string::npos) << e.what();
  }
}
