// base64 and SHA-256 against Python's base64 and hashlib (Debian python3,
// tests/oracles/backends/encoding_oracle.py).
#include "medvlmbench/backends/encoding.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::api {
namespace {

TEST(Encoding, Base64AndSha256MatchPython) {
  std::mt19937 rng(7);
  test::TempDir dir;
  // Lengths around the 3-byte (base64) and 64-byte (SHA-256 padding at 55/56) boundaries.
  const std::vector<size_t> lengths = {0, 1, 2, 3, 4, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4099};
  std::string listing;
  std::vector<std::string> inputs;
  for (size_t i = 0; i < lengths.size(); ++i) {
    std::string s(lengths[i], '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    inputs.push_back(s);
    test::write_text(dir / ("in" + std::to_string(i)), s);
  }
  const auto r = test::run_oracle_script(test::OracleInterpreter::kDebianPython, "backends/encoding_oracle.py",
                                         {"b64-sha256", dir.path(), std::to_string(lengths.size())});
  std::istringstream lines(r.out);
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string line;
    ASSERT_TRUE(std::getline(lines, line)) << "python printed too few lines: " << r.out << r.err;
    const size_t sp = line.find(' ');
    const std::string b64 = line.substr(0, sp), sha = line.substr(sp + 1);
    EXPECT_EQ(base64_encode(inputs[i]), b64) << "length " << inputs[i].size();
    EXPECT_EQ(base64_decode(b64), inputs[i]) << "length " << inputs[i].size();
    EXPECT_EQ(sha256_hex(inputs[i]), sha) << "length " << inputs[i].size();
  }
}

TEST(Encoding, KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(base64_encode("Man"), "TWFu");
  EXPECT_EQ(base64_encode("Ma"), "TWE=");
  EXPECT_THROW(base64_decode("TW!u"), Error);
}

}  // namespace
}  // namespace mvb::api
