#include "medvlmbench/io/csv.h"

#include <algorithm>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/io/files.h"

namespace mvb::io {
namespace {

std::vector<std::vector<std::string>> parse_rows(std::string_view text, const std::string& name) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool in_quotes = false, field_started = false;
  size_t quote_line = 0, line = 1;
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_row = [&] {
    end_field();
    // A blank line is no row (pandas skips blank lines).
    if (!(row.size() == 1 && row[0].empty())) rows.push_back(std::move(row));
    row.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      in_quotes = true;
      field_started = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_row();
      ++line;
    } else if (c == '\n') {
      end_row();
      ++line;
    } else {
      field += c;
      field_started = true;
    }
  }
  MVB_CHECK(!in_quotes, name, ": unterminated quoted field starting on line ", quote_line,
            " (the file is truncated or malformed)");
  if (!field.empty() || !row.empty()) end_row();
  return rows;
}

}  // namespace

int CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

int CsvTable::require_column(const std::string& name) const {
  const int c = column(name);
  MVB_CHECK(c >= 0, path, ": no column '", name, "' (columns present: ", join(header, ", "), ")");
  return c;
}

const std::string& CsvTable::cell(size_t r, int col) const {
  static const std::string empty;
  const auto& row = rows[r];
  return col >= 0 && static_cast<size_t>(col) < row.size() ? row[col] : empty;
}

CsvTable parse_csv(std::string_view text, const std::string& name) {
  auto rows = parse_rows(text, name);
  CsvTable t;
  t.path = name;
  MVB_CHECK(!rows.empty(), name, ": empty CSV file (expected a header row)");
  t.header = std::move(rows.front());
  t.rows.assign(std::make_move_iterator(rows.begin() + 1), std::make_move_iterator(rows.end()));
  return t;
}

CsvTable read_csv(const std::string& path) { return parse_csv(read_file(path), path); }

std::vector<std::vector<std::string>> read_csv_rows(const std::string& path) {
  return parse_rows(read_file(path), path);
}

bool is_pandas_na(std::string_view v) {
  static const char* kNa[] = {"",     "#N/A",   "#N/A N/A", "#NA",  "-1.#IND", "-1.#QNAN", "-NaN",
                              "-nan", "1.#IND", "1.#QNAN",  "<NA>", "N/A",     "NA",       "NULL",
                              "NaN",  "None",   "n/a",      "nan",  "null"};
  return std::any_of(std::begin(kNa), std::end(kNa), [&](const char* s) { return v == s; });
}

}  // namespace mvb::io
