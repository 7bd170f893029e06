// CSV tables as the reference reads them with pandas.read_csv / csv.reader: RFC 4180 quoting
// (quoted fields may hold commas, quotes as "" and newlines), CRLF or LF line ends, an optional
// UTF-8 BOM, first row = header.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mvb::io {

struct CsvTable {
  std::string path;  // for error messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // rows may be shorter/longer than the header

  // Index of the column named `name`, or -1.
  int column(const std::string& name) const;
  // Index of the column, or throws mvb::Error naming the file, the column and the columns present.
  int require_column(const std::string& name) const;
  // Field `col` of row `r`, or "" when the row is short.
  const std::string& cell(size_t r, int col) const;
};

// Parses CSV text; `name` is used in errors (unterminated quote).
CsvTable parse_csv(std::string_view text, const std::string& name);
// Reads and parses a CSV file; throws mvb::Error naming the file when missing or malformed.
CsvTable read_csv(const std::string& path);
// Reads a CSV file without treating the first row as a header (csv.reader semantics).
std::vector<std::vector<std::string>> read_csv_rows(const std::string& path);

// True for the strings pandas.read_csv turns into NaN by default ("", "NA", "nan", "None", "NULL",
// "N/A", "#N/A", "null", "NaN", "-nan", "<NA>", ...). The reference's dropna() drops rows holding them.
bool is_pandas_na(std::string_view value);

}  // namespace mvb::io
