// The native Parquet reader against files written by an independent writer (parquet-wasm, i.e.
// arrow-rs, driven by tests/oracles/io/write_parquet.mjs): every codec, data page v1 and v2, dictionary and
// plain and DELTA_* / BYTE_STREAM_SPLIT encodings, nulls, several row groups and pages, struct image
// columns; plus truncated and non-parquet files.
#include "medvlmbench/io/parquet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

std::string base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

// The table every variant writes: 50 rows, nulls in every nullable column.
struct Expected {
  std::vector<nlohmann::json> s, b, i64, i32, f64, flag, image;
};

Expected make_table(int n) {
  Expected e;
  std::mt19937 rng(7);
  for (int r = 0; r < n; ++r) {
    const bool null = r % 7 == 3;
    e.s.push_back(null ? nlohmann::json()
                       : nlohmann::json(std::string("word") + std::to_string(r % 5) + (r % 11 ? "" : " ünï")));
    std::string bytes(r % 9, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() & 0xFF);
    e.b.push_back(null ? nlohmann::json() : nlohmann::json(bytes));
    e.i64.push_back(r % 5 == 1 ? nlohmann::json() : nlohmann::json(int64_t(r) * 1000003 - 20000000000LL));
    e.i32.push_back(nlohmann::json(r % 4 - 2));
    e.f64.push_back(r % 6 == 5 ? nlohmann::json() : nlohmann::json(r * 0.25 - 3.5));
    e.flag.push_back(nlohmann::json(r % 3 == 0));
    e.image.push_back(r % 8 == 2
                          ? nlohmann::json()
                          : nlohmann::json{{"bytes", r % 8 == 5 ? nlohmann::json() : nlohmann::json(bytes + "IMG")},
                                           {"path", "img_" + std::to_string(r) + ".png"}});
  }
  return e;
}

std::string write_variant(const TempDir& dir, const std::string& name, const Expected& e, nlohmann::json opts) {
  auto b64 = [](const std::vector<nlohmann::json>& v) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& x : v) out.push_back(x.is_null() ? x : nlohmann::json(base64(x.get<std::string>())));
    return out;
  };
  nlohmann::json images = nlohmann::json::array();
  for (const auto& x : e.image) {
    if (x.is_null()) {
      images.push_back(x);
      continue;
    }
    images.push_back(
        {{"bytes", x["bytes"].is_null() ? x["bytes"] : nlohmann::json(base64(x["bytes"]))}, {"path", x["path"]}});
  }
  opts["out"] = dir / (name + ".parquet");
  opts["columns"] = {{{"name", "s"}, {"type", "utf8"}, {"values", e.s}},
                     {{"name", "b"}, {"type", "binary"}, {"values", b64(e.b)}},
                     {{"name", "i64"}, {"type", "int64"}, {"values", e.i64}},
                     {{"name", "i32"}, {"type", "int32"}, {"values", e.i32}},
                     {{"name", "f64"}, {"type", "float64"}, {"values", e.f64}},
                     {{"name", "flag"}, {"type", "bool"}, {"values", e.flag}},
                     {{"name", "image"}, {"type", "image"}, {"values", images}}};
  const std::string spec = dir / (name + ".json");
  write_text(spec, opts.dump());
  EXPECT_STRNE(MVB_NODE, "") << "node (and tests/oracles/node_modules) is needed to write parquet test files";
  const auto r = run_command({MVB_NODE, source_dir() + "/tests/oracles/io/write_parquet.mjs", spec});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return opts["out"];
}

void expect_table(const std::string& path, const Expected& e) {
  SCOPED_TRACE(path);
  io::ParquetFile f(path);
  ASSERT_EQ(f.num_rows(), static_cast<int64_t>(e.s.size()));
  auto col = [&](const std::string& name) { return f.read_all(f.require_column(name)); };
  const auto s = col("s"), b = col("b"), i64 = col("i64"), i32 = col("i32"), f64 = col("f64"), flag = col("flag"),
             bytes = col("image.bytes"), ipath = col("image.path");
  ASSERT_EQ(s.size(), e.s.size());
  for (size_t r = 0; r < e.s.size(); ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    EXPECT_EQ(s.is_null(r), e.s[r].is_null());
    if (!e.s[r].is_null()) {
      EXPECT_EQ(s.bytes[r], e.s[r].get<std::string>());
    }
    EXPECT_EQ(b.is_null(r), e.b[r].is_null());
    if (!e.b[r].is_null()) {
      EXPECT_EQ(b.bytes[r], e.b[r].get<std::string>());
    }
    EXPECT_EQ(i64.is_null(r), e.i64[r].is_null());
    if (!e.i64[r].is_null()) {
      EXPECT_EQ(i64.ints[r], e.i64[r].get<int64_t>());
    }
    EXPECT_EQ(i32.ints[r], e.i32[r].get<int64_t>());
    EXPECT_EQ(f64.is_null(r), e.f64[r].is_null());
    if (!e.f64[r].is_null()) {
      EXPECT_DOUBLE_EQ(f64.doubles[r], e.f64[r].get<double>());
    }
    EXPECT_EQ(flag.ints[r], e.flag[r].get<bool>() ? 1 : 0);
    const auto& img = e.image[r];
    EXPECT_EQ(bytes.is_null(r), img.is_null() || img["bytes"].is_null());
    if (!img.is_null() && !img["bytes"].is_null()) {
      EXPECT_EQ(bytes.bytes[r], img["bytes"].get<std::string>());
    }
    EXPECT_EQ(ipath.is_null(r), img.is_null());
    if (!img.is_null()) {
      EXPECT_EQ(ipath.bytes[r], img["path"].get<std::string>());
    }
  }
}

TEST(ParquetReader, EveryCodecPageVersionAndDictionarySetting) {
  TempDir dir;
  const Expected e = make_table(50);
  for (const std::string version : {"V1", "V2"})
    for (const std::string codec : {"UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD"})
      for (const bool dict : {true, false}) {
        const std::string name = version + "_" + codec + (dict ? "_dict" : "_plain");
        const std::string p = write_variant(dir, name, e,
                                            {{"version", version},
                                             {"compression", codec},
                                             {"dictionary", dict},
                                             {"row_group_size", 16},
                                             {"data_page_size", 64}});
        expect_table(p, e);
        io::ParquetFile f(p);
        EXPECT_EQ(f.num_row_groups(), 4) << name;
        const auto& enc = f.encodings(0, f.require_column("s"));
        EXPECT_EQ(
            std::find(enc.begin(), enc.end(), 8) != enc.end() || std::find(enc.begin(), enc.end(), 2) != enc.end(),
            dict)
            << name << ": dictionary encoding expected iff enabled";
      }
}

TEST(ParquetReader, DeltaAndByteStreamSplitEncodings) {
  TempDir dir;
  const Expected e = make_table(50);
  for (const std::string version : {"V1", "V2"}) {
    const std::string p = write_variant(dir, "delta_" + version, e,
                                        {{"version", version},
                                         {"dictionary", false},
                                         {"column_encodings",
                                          {{"i64", "DELTA_BINARY_PACKED"},
                                           {"i32", "DELTA_BINARY_PACKED"},
                                           {"s", "DELTA_BYTE_ARRAY"},
                                           {"b", "DELTA_LENGTH_BYTE_ARRAY"},
                                           {"f64", "BYTE_STREAM_SPLIT"}}}});
    expect_table(p, e);
    io::ParquetFile f(p);
    auto has = [&](const std::string& col, int enc) {
      const auto& v = f.encodings(0, f.require_column(col));
      return std::find(v.begin(), v.end(), enc) != v.end();
    };
    EXPECT_TRUE(has("i64", 5)) << "the writer did not use DELTA_BINARY_PACKED";
    EXPECT_TRUE(has("b", 6)) << "the writer did not use DELTA_LENGTH_BYTE_ARRAY";
    EXPECT_TRUE(has("s", 7)) << "the writer did not use DELTA_BYTE_ARRAY";
    EXPECT_TRUE(has("f64", 9)) << "the writer did not use BYTE_STREAM_SPLIT";
  }
}

TEST(ParquetReader, SchemaColumnsAndLevels) {
  TempDir dir;
  const std::string p = write_variant(dir, "schema", make_table(5), nlohmann::json::object());
  io::ParquetFile f(p);
  std::vector<std::string> names;
  for (const auto& c : f.columns()) names.push_back(c.path);
  EXPECT_EQ(names, (std::vector<std::string>{"s", "b", "i64", "i32", "f64", "flag", "image.bytes", "image.path"}));
  EXPECT_EQ(f.columns()[6].max_def, 2);  // optional struct, optional field
  EXPECT_EQ(f.column_index("nope"), -1);
  const auto f64 = f.read_all(f.require_column("f64"));
  EXPECT_EQ(f64.as_string(0), "-3.5");
  EXPECT_EQ(f64.as_string(2), "-3");
  EXPECT_EQ(f.read_all(f.require_column("i64")).as_string(0), "-20000000000");
  try {
    f.require_column("question");
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("no column 'question' (columns present: s, b, i64"), std::string::npos)
        << err.what();
  }
}

TEST(ParquetReader, TruncatedAndForeignFilesAreClearErrors) {
  TempDir dir;
  const std::string p = write_variant(dir, "t", make_table(20), nlohmann::json::object());
  std::filesystem::resize_file(p, std::filesystem::file_size(p) / 2);
  try {
    io::ParquetFile f(p);
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find(p + ": not a Parquet file or truncated"), std::string::npos) << err.what();
  }
  write_text(dir / "x.parquet", "hello world, not parquet");
  EXPECT_THROW(io::ParquetFile(dir / "x.parquet"), Error);
  EXPECT_THROW(io::ParquetFile(dir / "missing.parquet"), Error);
}

TEST(ParquetReader, CorruptPageIsAnErrorNotACrash) {
  TempDir dir;
  const std::string p = write_variant(dir, "c", make_table(30), {{"compression", "SNAPPY"}});
  // Flip bytes in the middle of the data (the footer stays valid).
  std::string bytes = read_text(p);
  for (size_t i = 8; i < bytes.size() / 2; i += 3) bytes[i] = static_cast<char>(bytes[i] ^ 0x5A);
  write_text(p, bytes);
  io::ParquetFile f(p);
  bool threw = false;
  for (int c = 0; c < static_cast<int>(f.columns().size()); ++c) {
    try {
      f.read_all(c);
    } catch (const Error&) {
      threw = true;
    }
  }
  EXPECT_TRUE(threw);
}

// Found by fuzzing: a 2.8 KB file whose snappy page declared 2.9 GB uncompressed was allocated before
// decompressing (an out-of-memory under the fuzzer's 2 GB limit). The declared size is now checked
// against the most snappy / gzip / zstd can expand the page's bytes, before any allocation.
TEST(ParquetReader, DeclaredPageSizeBeyondTheCodecsExpansionIsAnError) {
  const std::string p = source_dir() + "/fuzz/corpus/parquet/regress-snappy-declared-size-bomb.parquet";
  io::ParquetFile f(p);
  std::string messages;
  for (int rg = 0; rg < f.num_row_groups(); ++rg)
    for (int c = 0; c < static_cast<int>(f.columns().size()); ++c) {
      try {
        f.read(rg, c);
      } catch (const Error& e) {
        messages += std::string(e.what()) + "\n";
      }
    }
  EXPECT_NE(messages.find("more than snappy can expand to"), std::string::npos) << messages;
  EXPECT_NE(messages.find(p), std::string::npos) << messages;
}

}  // namespace
}  // namespace mvb::test
