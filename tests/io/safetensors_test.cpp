// safetensors: round trips, files written by an independent writer (Python struct/json/torch), and
// hostile or truncated headers, which must all be refused with mvb::Error, never read out of bounds.
#include "medvlmbench/io/safetensors.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "support/test_support.h"

using namespace mvb;
using namespace mvb::io;
using mvb::test::TempDir;

namespace {

std::vector<std::pair<std::string, at::Tensor>> sample_tensors() {
  at::manual_seed(7);
  return {{"f32", at::randn({3, 5})},
          {"f16", at::randn({4}).to(at::kHalf)},
          {"bf16", at::randn({2, 3}).to(at::kBFloat16)},
          {"f64", at::randn({2}, at::kDouble)},
          {"i64", at::arange(-3, 9, at::kLong).view({3, 4})},
          {"i32", at::arange(0, 5, at::kInt)},
          {"u8", at::arange(250, 256, at::kInt).to(at::kByte)},
          {"bool", at::tensor({1, 0, 1}).to(at::kBool)},
          {"noncontig", at::randn({4, 6}).t()},
          {"scalar", at::tensor(3.5f)},
          {"empty", at::empty({0, 7})}};
}

std::string build_file(const nlohmann::json& header, const std::string& data) {
  const std::string h = header.dump();
  const uint64_t n = h.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + h + data;
}

void expect_refused(const std::string& path, const std::string& needle = "") {
  try {
    StateDict sd = open_safetensors(path);
    for (const auto& n : sd.names()) sd.get(n);
    FAIL() << "accepted a bad file " << path;
  } catch (const Error& e) {
    if (!needle.empty()) EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "message must name the file: " << e.what();
  }
}

// tests/oracles/io/safetensors_oracle.py {write,read} PATH (Debian's python3-torch): prints the values.
mvb::test::CommandResult safetensors_oracle(const std::string& command, const std::string& path) {
  return mvb::test::run_oracle_script(mvb::test::OracleInterpreter::kDebianPython, "io/safetensors_oracle.py",
                                      {command, path});
}

}  // namespace

TEST(Safetensors, RoundTripAllDtypes) {
  TempDir d;
  const auto tensors = sample_tensors();
  write_safetensors(d / "m.safetensors", tensors, {{"format", "pt"}, {"note", "x"}});
  StateDict sd = open_safetensors(d / "m.safetensors");
  ASSERT_EQ(sd.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    at::Tensor got = sd.get(name);
    EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), t.sizes()) << name;
    EXPECT_TRUE(at::equal(got, t.contiguous())) << name;
  }
  EXPECT_EQ(safetensors_metadata(d / "m.safetensors").at("format"), "pt");
  EXPECT_EQ(sd.dtype_counts().at("BF16"), 1);
  EXPECT_EQ(sd.num_parameters(), 15 + 4 + 6 + 2 + 12 + 5 + 6 + 3 + 24 + 1 + 0);
  // Cast on load.
  EXPECT_TRUE(at::allclose(sd.get("bf16", at::kFloat), tensors[2].second.to(at::kFloat)));
}

TEST(Safetensors, ZeroCopyWhenAlignedAndCopyOnWrite) {
  TempDir d;
  write_safetensors(d / "m.safetensors", {{"a", at::arange(0, 16, at::kFloat)}});
  const std::string bytes_before = mvb::test::read_text(d / "m.safetensors");
  StateDict sd = open_safetensors(d / "m.safetensors");
  at::Tensor a = sd.get("a");
  const auto& r = sd.record("a");
  EXPECT_EQ(static_cast<const void*>(a.data_ptr()), static_cast<const void*>(r.file->data() + r.offset));
  a.add_(1);  // private mapping: must not reach the file
  EXPECT_EQ(mvb::test::read_text(d / "m.safetensors"), bytes_before);
}

TEST(Safetensors, ReadsFileWrittenByPythonIncludingMisalignedData) {
  TempDir d;
  // An independent writer (tests/oracles/io/safetensors_oracle.py: struct + json + torch byte views).
  // Its 3-byte U8 tensor first leaves the F32 and BF16 data misaligned, which the format allows and
  // the reader must copy.
  auto r = safetensors_oracle("write", d / "py.safetensors");
  ASSERT_EQ(r.exit_code, 0);
  const auto expected = nlohmann::json::parse(r.out);
  StateDict sd = open_safetensors(d / "py.safetensors");
  EXPECT_EQ(sd.names(), (std::vector<std::string>{"a_u8", "b_f32", "c_bf16", "d_i64"}));
  for (const auto& [name, vals] : expected.items()) {
    at::Tensor t = sd.get(name).to(at::kDouble).flatten();
    ASSERT_EQ(t.numel(), static_cast<int64_t>(vals.size())) << name;
    for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t[i].item<double>(), vals[i].get<double>()) << name << i;
  }
  EXPECT_EQ(sd.record("b_f32").offset % 4, 3u) << "fixture should exercise misaligned data";
}

TEST(Safetensors, PythonReadsWhatWeWrite) {
  TempDir d;
  const auto tensors = sample_tensors();
  write_safetensors(d / "m.safetensors", tensors);
  auto r = safetensors_oracle("read", d / "m.safetensors");
  ASSERT_EQ(r.exit_code, 0);
  const auto got = nlohmann::json::parse(r.out);
  for (const auto& [name, t] : tensors) {
    at::Tensor flat = t.contiguous().to(at::kDouble).flatten();
    ASSERT_EQ(got.at(name).size(), static_cast<size_t>(flat.numel())) << name;
    for (int64_t i = 0; i < flat.numel(); ++i) EXPECT_EQ(got[name][i].get<double>(), flat[i].item<double>()) << name;
  }
}

TEST(Safetensors, EveryTruncationIsRefused) {
  TempDir d;
  write_safetensors(d / "m.safetensors", {{"w", at::randn({4, 4})}, {"b", at::randn({4})}});
  const std::string full = mvb::test::read_text(d / "m.safetensors");
  for (size_t len = 0; len < full.size(); ++len) {
    mvb::test::write_text(d / "t.safetensors", full.substr(0, len));
    expect_refused(d / "t.safetensors");
  }
}

TEST(Safetensors, HostileHeadersAreRefused) {
  TempDir d;
  const std::string data(32, '\0');
  auto entry = [](const char* dt, std::vector<int64_t> shape, uint64_t b, uint64_t e) {
    return nlohmann::json{{"dtype", dt}, {"shape", shape}, {"data_offsets", {b, e}}};
  };
  struct Case {
    const char* name;
    std::string bytes;
    const char* needle;
  };
  const std::vector<Case> cases = {
      {"overlap", build_file({{"a", entry("F32", {4}, 0, 16)}, {"b", entry("F32", {4}, 8, 24)}}, data.substr(0, 24)),
       "overlaps"},
      {"gap", build_file({{"a", entry("F32", {2}, 0, 8)}, {"b", entry("F32", {2}, 16, 24)}}, data.substr(0, 24)),
       "gap"},
      {"trailing", build_file({{"a", entry("F32", {2}, 0, 8)}}, data.substr(0, 16)), "trailing"},
      {"size_mismatch", build_file({{"a", entry("F32", {3}, 0, 8)}}, data.substr(0, 8)), "needs"},
      {"out_of_bounds", build_file({{"a", entry("F32", {8}, 0, 32)}}, data.substr(0, 16)), "beyond"},
      {"reversed", build_file({{"a", entry("U8", {0}, 8, 0)}}, data.substr(0, 8)), "reversed"},
      {"absurd_shape", build_file({{"a", entry("F32", {1ll << 40, 1ll << 40}, 0, 8)}}, data.substr(0, 8)),
       "absurdly large"},
      {"negative_dim",
       build_file({{"a", {{"dtype", "F32"}, {"shape", {-1}}, {"data_offsets", {0, 4}}}}}, data.substr(0, 4)),
       "negative"},
      {"f8", build_file({{"a", entry("F8_E4M3", {4}, 0, 4)}}, data.substr(0, 4)), "float8"},
      {"unknown_dtype", build_file({{"a", entry("Q4", {4}, 0, 4)}}, data.substr(0, 4)), "unsupported dtype"},
      {"not_object", build_file(nlohmann::json::array({1, 2}), data.substr(0, 4)), "JSON object"},
      {"missing_fields", build_file({{"a", {{"dtype", "F32"}}}}, ""), "needs dtype"},
      {"bad_metadata", build_file({{"__metadata__", {{"k", 1}}}}, ""), "__metadata__"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    mvb::test::write_text(d / "h.safetensors", c.bytes);
    expect_refused(d / "h.safetensors", c.needle);
  }
  // Header length larger than the limit / than the file.
  std::string huge(8, '\xff');
  mvb::test::write_text(d / "h.safetensors", huge + "{}");
  expect_refused(d / "h.safetensors", "limit");
  uint64_t n = 1000;
  std::string longer(reinterpret_cast<const char*>(&n), 8);
  mvb::test::write_text(d / "h.safetensors", longer + "{}");
  expect_refused(d / "h.safetensors", "truncated");
  mvb::test::write_text(d / "h.safetensors", "{\"a\":1}");
  expect_refused(d / "h.safetensors");
}

TEST(Safetensors, RandomByteFlipsNeverCrash) {
  TempDir d;
  write_safetensors(d / "m.safetensors", {{"w", at::randn({3, 3})}, {"ids", at::arange(0, 6, at::kLong)}});
  const std::string full = mvb::test::read_text(d / "m.safetensors");
  std::mt19937 rng(1234);
  int refused = 0, accepted = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s = full;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) {
      // Mostly in the length prefix and header, where parsing decisions are made.
      const size_t pos = rng() % std::min<size_t>(s.size(), 160);
      s[pos] = static_cast<char>(rng() % 256);
    }
    mvb::test::write_text(d / "f.safetensors", s);
    try {
      StateDict sd = open_safetensors(d / "f.safetensors");
      for (const auto& name : sd.names()) {
        at::Tensor t = sd.get(name);
        (void)t.sum();  // touches every byte: must be in bounds
      }
      ++accepted;
    } catch (const Error&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 1000);
  EXPECT_GT(accepted, 0);  // flips in data bytes or harmless header spaces still load
}

TEST(Safetensors, ShardedIndex) {
  TempDir d;
  write_safetensors(d / "model-00001-of-00002.safetensors", {{"a.weight", at::ones({2, 2})}});
  write_safetensors(d / "model-00002-of-00002.safetensors", {{"b.weight", at::zeros({3})}, {"b.bias", at::ones({1})}});
  nlohmann::json idx = {{"metadata", {{"total_size", 32}}},
                        {"weight_map",
                         {{"a.weight", "model-00001-of-00002.safetensors"},
                          {"b.weight", "model-00002-of-00002.safetensors"},
                          {"b.bias", "model-00002-of-00002.safetensors"}}}};
  mvb::test::write_text(d / "model.safetensors.index.json", idx.dump());
  StateDict sd = StateDict::open(d.path());
  EXPECT_EQ(sd.size(), 3u);
  EXPECT_TRUE(at::equal(sd.get("a.weight"), at::ones({2, 2})));
  EXPECT_EQ(sd.num_parameters(), 8);
  // A name in the index but not in its shard, and a missing shard, are both clear errors.
  idx["weight_map"]["c"] = "model-00002-of-00002.safetensors";
  mvb::test::write_text(d / "model.safetensors.index.json", idx.dump());
  EXPECT_THROW(StateDict::open(d.path()), Error);
  idx["weight_map"].erase("c");
  idx["weight_map"]["d"] = "model-00003-of-00002.safetensors";
  mvb::test::write_text(d / "model.safetensors.index.json", idx.dump());
  try {
    StateDict::open(d.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing shard"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, WriterRefusesDuplicatesAndReservedNames) {
  TempDir d;
  EXPECT_THROW(write_safetensors(d / "x.safetensors", {{"a", at::ones({1})}, {"a", at::ones({1})}}), Error);
  EXPECT_THROW(write_safetensors(d / "x.safetensors", {{"__metadata__", at::ones({1})}}), Error);
}
