// npy/npz reading against numpy (Debian python3-numpy) as the writer and the oracle: stored and
// deflated archives, every numeric dtype, big-endian and Fortran-ordered arrays, truncated files.
#include "medvlmbench/io/npz.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

// Writes arrays with numpy and prints, per key: dtype shape sum-of-float64 first-element last-element.
const char* kWriter = R"(
import numpy as np, sys
rng = np.random.default_rng(3)
arrays = {
  'u8': rng.integers(0, 256, size=(3, 5, 4), dtype=np.uint8),
  'i8': rng.integers(-128, 128, size=(7,), dtype=np.int8),
  'i16': rng.integers(-30000, 30000, size=(2, 3), dtype=np.int16),
  'u16': rng.integers(0, 65535, size=(4,), dtype=np.uint16),
  'i32': rng.integers(-2**31, 2**31 - 1, size=(3,), dtype=np.int32),
  'i64': np.array([-(2**40), 5, 2**50], dtype=np.int64),
  'u32': rng.integers(0, 2**32 - 1, size=(3,), dtype=np.uint32),
  'f16': np.array([0.5, -2.25, 1e-5, 65504.0], dtype=np.float16),
  'f32': rng.standard_normal((4, 3)).astype(np.float32),
  'f64': rng.standard_normal((2, 2, 2)),
  'b': np.array([True, False, True]),
  'be': np.array([1, -2, 300000], dtype='>i4'),
  'fortran': np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
  'scalar': np.array(7.5),
}
(np.savez_compressed if sys.argv[2] == 'deflated' else np.savez)(sys.argv[1], **arrays)
for k, a in arrays.items():
    f = np.ascontiguousarray(a).reshape(-1)
    print(k, a.shape, '%.17g' % float(f.astype(np.float64).sum()), '%.17g' % float(f[0]), '%.17g' % float(f[-1]))
)";

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
  const auto r = run_python(kWriter, {path, mode});
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
  run_python("import numpy as np,sys\nnp.savez(sys.argv[1], x=np.zeros(2), y=np.ones(3))", {dir / "k.npz"});
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
  run_python("import numpy as np,sys\nnp.savez_compressed(sys.argv[1], x=np.arange(5000))", {path});
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
  run_python("import numpy as np,sys\nnp.savez(sys.argv[1], x=np.arange(5000))", {p2});
  std::string bytes = read_text(p2);
  bytes.erase(200, 1000);  // the central directory offset now points past the data
  write_text(p2, bytes);
  EXPECT_THROW(io::NpzFile(p2).read("x"), Error);
  write_text(dir / "n.npz", "PK not really");
  EXPECT_THROW(io::NpzFile(dir / "n.npz"), Error);
  run_python("import numpy as np,sys\nnp.save(sys.argv[1], np.array(['a','b'], dtype=object), allow_pickle=True)",
             {dir / "o.npy"});
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
  run_python("import numpy as np,sys\nnp.savez(sys.argv[1], x=np.arange(100, dtype=np.int64))", {path});
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

}  // namespace
}  // namespace mvb::test
