// npy/npz reading against numpy (Debian python3-numpy, tests/oracles/io/npz_oracle.py) as the writer
// and the oracle: stored and deflated archives, every numeric dtype, big-endian and Fortran-ordered
// arrays, truncated files.
#include "medvlmbench/io/npz.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

// tests/oracles/io/npz_oracle.py COMMAND ARGS... (Debian's python3-numpy writes the archives).
CommandResult numpy_oracle(const std::vector<std::string>& args) {
  return run_oracle_script(OracleInterpreter::kDebianPython, "io/npz_oracle.py", args);
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

std::string g17(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void check_archive(const std::string& mode) {
  TempDir dir;
  const std::string path = dir / "a.npz";
  const auto r = numpy_oracle({"dtypes", path, mode});
  io::NpzFile npz(path);
  std::string mine;
  for (const std::string key :
       {"u8", "i8", "i16", "u16", "i32", "i64", "u32", "f16", "f32", "f64", "b", "be", "fortran", "scalar"}) {
    ASSERT_TRUE(npz.contains(key)) << key;
    const io::NpyArray a = npz.read(key);
    double sum = 0;
    for (int64_t i = 0; i < a.numel(); ++i) sum += a.get_double(i);
    mine += key + " " + shape_text(a.shape) + " " + g17(sum) + " " + g17(a.get_double(0)) + " " +
            g17(a.get_double(a.numel() - 1)) + "\n";
  }
  EXPECT_EQ(mine, r.out);
  const io::NpyArray i64 = npz.read("i64");
  EXPECT_EQ(i64.get_int(2), int64_t(1) << 50);  // exact beyond double precision
  EXPECT_EQ(i64.dtype_string(), "int64");
}

TEST(NpzReader, StoredArchiveMatchesNumpy) { check_archive("stored"); }
TEST(NpzReader, DeflatedArchiveMatchesNumpy) { check_archive("deflated"); }

TEST(NpzReader, MissingKeyListsTheArrays) {
  TempDir dir;
  numpy_oracle({"two-arrays", dir / "k.npz"});
  try {
    io::NpzFile(dir / "k.npz").read("slo_fundus");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no array 'slo_fundus' (arrays present: x, y)"), std::string::npos)
        << e.what();
  }
}

TEST(NpzReader, TruncatedAndForeignFilesAreClearErrors) {
  TempDir dir;
  const std::string path = dir / "t.npz";
  numpy_oracle({"arange", path, "deflated", "5000"});
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 40);
  try {
    io::NpzFile npz(path);
    npz.read("x");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  // The data cut but the directory intact: the member is truncated.
  const std::string p2 = dir / "u.npz";
  numpy_oracle({"arange", p2, "stored", "5000"});
  std::string bytes = read_text(p2);
  bytes.erase(200, 1000);  // the central directory offset now points past the data
  write_text(p2, bytes);
  EXPECT_THROW(io::NpzFile(p2).read("x"), Error);
  write_text(dir / "n.npz", "PK not really");
  EXPECT_THROW(io::NpzFile(dir / "n.npz"), Error);
  numpy_oracle({"object-npy", dir / "o.npy"});
  try {
    io::read_npy_file(dir / "o.npy");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported dtype '|O'"), std::string::npos) << e.what();
  }
}

TEST(NpzReader, CorruptMemberFailsTheCrc) {
  TempDir dir;
  const std::string path = dir / "c.npz";
  numpy_oracle({"arange", path, "stored", "100"});
  std::string bytes = read_text(path);
  bytes[400] = static_cast<char>(bytes[400] ^ 0xFF);  // inside the stored array data
  write_text(path, bytes);
  try {
    io::NpzFile(path).read("x");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CRC mismatch"), std::string::npos) << e.what();
  }
}

// Found by fuzzing: a deflated member whose central directory declares gigabytes was allocated at that
// size before inflating. Deflate yields at most 1032 bytes per input byte, so the reader refuses it.
TEST(NpzReader, DeclaredSizeBeyondDeflateRatioIsRefusedBeforeAllocating) {
  TempDir dir;
  const std::string path = dir / "bomb.npz";
  numpy_oracle({"arange", path, "deflated", "100"});
  std::string bytes = read_text(path);
  const size_t cd = bytes.find("PK\x01\x02");
  ASSERT_NE(cd, std::string::npos);
  for (int i = 0; i < 4; ++i) bytes[cd + 24 + i] = static_cast<char>(i == 3 ? 0xF0 : 0x00);  // 0xF0000000 bytes
  write_text(path, bytes);
  try {
    io::NpzFile(path).read("x");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than deflate can produce"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("x.npy"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mvb::test
