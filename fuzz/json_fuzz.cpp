// Fuzz target: our JSON file readers (io/files.h read_json, io/jsonl.h read_jsonl and repair_jsonl):
// the torn-tail rules of JSON lines (a final partial line is tolerated, a corrupt middle line is an
// error) and repair cutting exactly the torn bytes. Checks the invariants, not just absence of crashes.
#include <cstdlib>

#include "fuzz_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/io/jsonl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mvb::fuzz::write_scratch("input.json", data, size);
  try {
    (void)mvb::io::read_json(path);
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  try {
    const mvb::io::JsonlContents c = mvb::io::read_jsonl(path);
    if (c.valid_bytes + c.torn_bytes != size) {
      std::fprintf(stderr, "read_jsonl: valid %zu + torn %zu != size %zu\n", c.valid_bytes, c.torn_bytes, size);
      std::abort();
    }
    mvb::io::repair_jsonl(path);
    const mvb::io::JsonlContents r = mvb::io::read_jsonl(path);
    if (r.torn_bytes != 0 || r.valid_bytes != c.valid_bytes || r.rows.size() != c.rows.size()) {
      std::fprintf(stderr, "repair_jsonl left torn %zu / valid %zu (was %zu) / rows %zu (was %zu)\n", r.torn_bytes,
                   r.valid_bytes, c.valid_bytes, r.rows.size(), c.rows.size());
      std::abort();
    }
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  return 0;
}
