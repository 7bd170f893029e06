// CSV parsing against Python's csv module (tests/oracles/io/csv_oracle.py; the reference reads Drishti
// with csv.reader and the rest with pandas, whose quoting rules are the same RFC 4180 ones).
#include "medvlmbench/io/csv.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

TEST(CsvReader, MatchesPythonCsvModule) {
  TempDir dir;
  const std::string path = dir / "t.csv";
  const std::string text =
      "\xEF\xBB\xBFPath,question type,answer\r\n"
      "a/b.jpg,OPEN,\"Yes, it is\"\r\n"
      "c.jpg,CLOSED,\"He said \"\"no\"\"\"\r\n"
      "\"multi\nline.jpg\",OPEN,\r\n"
      "\r\n"
      "d.jpg,,\"\"\n"
      "e.jpg,OPEN,last";  // no final newline
  write_text(path, text);
  const auto r = run_oracle_script(OracleInterpreter::kDebianPython, "io/csv_oracle.py", {path});
  const nlohmann::json expected = nlohmann::json::parse(r.out);
  const auto rows = io::read_csv_rows(path);
  EXPECT_EQ(nlohmann::json(rows), expected);
  const io::CsvTable t = io::read_csv(path);
  EXPECT_EQ(t.header, (std::vector<std::string>{"Path", "question type", "answer"}));
  ASSERT_EQ(t.rows.size(), 5u);
  EXPECT_EQ(t.cell(0, t.require_column("answer")), "Yes, it is");
  EXPECT_EQ(t.cell(2, 0), "multi\nline.jpg");
  EXPECT_EQ(t.cell(3, 2), "");
}

TEST(CsvReader, PandasNaStrings) {
  for (const char* na : {"", "NA", "nan", "NaN", "None", "NULL", "null", "N/A", "n/a", "#N/A", "<NA>", "-nan"})
    EXPECT_TRUE(io::is_pandas_na(na)) << na;
  for (const char* v : {"no", "0", "none", "Nan ", "yes"}) EXPECT_FALSE(io::is_pandas_na(v)) << v;
}

TEST(CsvReader, ErrorsNameTheFile) {
  TempDir dir;
  write_text(dir / "u.csv", "a,b\n1,\"open quote\n2,3\n");
  try {
    io::read_csv(dir / "u.csv");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "u.csv"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("unterminated quoted field starting on line 2"), std::string::npos)
        << e.what();
  }
  write_text(dir / "e.csv", "");
  EXPECT_THROW(io::read_csv(dir / "e.csv"), Error);
  EXPECT_THROW(io::read_csv(dir / "missing.csv"), Error);
  const io::CsvTable t = io::parse_csv("x,y\n1,2\n", "mem.csv");
  try {
    t.require_column("z");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "mem.csv: no column 'z' (columns present: x, y)");
  }
}

}  // namespace
}  // namespace mvb::test
