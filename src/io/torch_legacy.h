// The legacy torch.save stream (torch < 1.6, or _use_new_zipfile_serialization=False), internal to
// the torch checkpoint reader (torch_checkpoint.cpp).
//
// Layout, as torch/serialization.py _legacy_save writes it: five pickles back to back — the magic
// number 0x1950a86a20f9469cfc6c, the protocol version 1001, a sys_info dict, the object itself (its
// storages as persistent ids ('storage', type, root_key, location, numel, view_metadata)), and the
// list of storage keys — then, for each key in that list's order, an int64 little-endian element
// count followed by the storage's raw bytes.
#pragma once

#include <string>

#include "medvlmbench/io/torch_pickle.h"

namespace mvb::io {

// True when `head` (the first bytes of a file) is the pickled legacy magic number.
bool starts_like_legacy_checkpoint(const std::string& head);

// Unpickles the object of a legacy checkpoint through the restricted unpickler; its storages are
// byte ranges of the memory-mapped file (nothing is copied). Throws mvb::Error naming `path`.
pickle::ValuePtr unpickle_legacy_checkpoint(const std::string& path);

}  // namespace mvb::io
