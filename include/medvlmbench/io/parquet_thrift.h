// Thrift compact-protocol decoding, just enough for Parquet metadata (the file footer and page
// headers). Decodes into a generic tree; the Parquet reader picks the fields it needs by id.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mvb::io::thrift {

struct Value {
  int type = 0;   // compact type id: 1/2 bool, 3 byte, 4 i16, 5 i32, 6 i64, 7 double, 8 binary, 9 list, 10 set, 11 map,
                  // 12 struct
  int64_t i = 0;  // bool / integers
  double d = 0;
  std::string s;                    // binary / string
  std::vector<Value> list;          // list / set elements; map: key, value, key, value ...
  std::map<int16_t, Value> fields;  // struct

  const Value* field(int16_t id) const;
  int64_t int_field(int16_t id, int64_t fallback) const;
  const std::string& str_field(int16_t id) const;
};

// Decodes one struct starting at data[*pos]; advances *pos. Throws mvb::Error (`what` names the
// source) on malformed or truncated input.
Value read_struct(const uint8_t* data, size_t size, size_t* pos, const std::string& what);

}  // namespace mvb::io::thrift
