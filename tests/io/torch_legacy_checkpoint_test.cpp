// What only the legacy torch.save stream (torch < 1.6, or _use_new_zipfile_serialization=False) has:
// storage views, its own damage (each refused with one line naming the file), and format detection.
// Every state-dict shape is loaded in both formats by torch_checkpoint_test.cpp.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <random>

#include "medvlmbench/core/error.h"
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

TEST(TorchLegacyCheckpoint, StorageViewsOfOneRoot) {
  TempDir d;
  io::create_directories(d / "raw");
  // Written with python's pickle by hand as torch < 1.0 could (view_metadata set; newer writers always save None), and
  // read back by torch.load as the oracle: slices [4, 12) and [12, 20) of one float root, the root
  // itself, and a half-precision view at an odd element offset.
  const auto expected = save_with_python("legacy-storage-views", d / "sliced.pt", d / "raw");
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

TEST(TorchLegacyCheckpoint, TruncatedAndCorruptedFilesAreRefusedCleanly) {
  TempDir d;
  auto r = mvb::test::run_torch_oracle("small-legacy", {d / "ok.pt"});
  ASSERT_EQ(r.exit_code, 0);
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
  auto r = mvb::test::run_torch_oracle("format-magic", {d / "weights.zip", d / "weights.legacy", d / "old.pt"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(torch_checkpoint_format(d / "weights.zip"), TorchCheckpointFormat::kLegacy);
  EXPECT_EQ(torch_checkpoint_format(d / "weights.legacy"), TorchCheckpointFormat::kZip);
  EXPECT_TRUE(at::equal(open_torch_checkpoint(d / "weights.zip").get("w"), at::ones({2})));
  EXPECT_TRUE(at::equal(open_torch_checkpoint(d / "weights.legacy").get("w"), at::ones({2})));
  EXPECT_EQ(torch_checkpoint_format(d / "old.pt"), TorchCheckpointFormat::kTar);
  const std::string e = load_error(d / "old.pt");
  EXPECT_NE(e.find("tar-based"), std::string::npos) << e;
  EXPECT_NE(e.find(d / "old.pt"), std::string::npos) << e;
}
