// Fuzz target: the CSV reader (io/csv.h): quoting, CR/LF handling, BOM, ragged rows; in memory and
// through read_csv_rows on a file (the header-less path), then every cell is looked up.
#include <string_view>

#include "fuzz_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const mvb::io::CsvTable t = mvb::io::parse_csv(text, "fuzz input");
    for (size_t c = 0; c < t.header.size(); ++c) {
      (void)t.column(t.header[c]);
      for (size_t r = 0; r < t.rows.size(); ++r) (void)mvb::io::is_pandas_na(t.cell(r, static_cast<int>(c)));
    }
    if (!t.header.empty()) (void)t.require_column(t.header.back());
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  try {
    (void)mvb::io::read_csv_rows(mvb::fuzz::write_scratch("input.csv", data, size));
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  return 0;
}
