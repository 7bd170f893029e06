// Loader side of the sentencepiece module (libmvb_spm.so): finds it, dlopens it with
// RTLD_NOW|RTLD_LOCAL|RTLD_DEEPBIND (sanitizer builds: dlmopen into a new link-map namespace, see
// spm_module.cpp) and exposes its C functions.
#pragma once

#include <string>
#include <vector>

namespace mvb::text::spm {

struct Api {
  int (*abi_version)();
  void* (*load)(const char*, char*, int);
  void* (*load_no_dummy_prefix)(const char*, char*, int);  // add_dummy_prefix off (legacy=False)
  void (*free_handle)(void*);
  int (*encode)(void*, const char*, int, int*, int);
  int (*decode)(void*, const int*, int, char*, int);
  int (*decode_pieces)(void*, const char* const*, const int*, int, char*, int);
  int (*piece_size)(void*);
  int (*id_to_piece)(void*, int, char*, int);
  int (*piece_to_id)(void*, const char*, int);
  int (*special_id)(void*, int);
  int (*piece_flags)(void*, int);
  int (*train)(const char*, char*, int);
};

// The module, loaded on first use. Throws mvb::Error listing where it looked when it is missing.
const Api& api();
// Where the module was found ("" before the first successful api()).
std::string module_path();
// Candidate locations, in search order: $MVB_SPM_MODULE alone when set; else next to the
// executable, its parent (test binaries), <exe>/../lib/medvlmbench (installed), the build dir.
std::vector<std::string> module_candidates();

// Trains a model with spm_train-style arguments; throws on failure.
void train(const std::string& args);

}  // namespace mvb::text::spm
