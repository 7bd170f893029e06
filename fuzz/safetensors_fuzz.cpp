// Fuzz target: the safetensors reader (io/safetensors.h) on arbitrary file bytes: header parsing and
// validation, the metadata reader, and materialising every tensor it accepted (the bounds checks must
// keep every read inside the mapping).
#include <ATen/ATen.h>

#include "fuzz_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/safetensors.h"
#include "medvlmbench/io/state_dict.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mvb::fuzz::write_scratch("input.safetensors", data, size);
  try {
    (void)mvb::io::safetensors_metadata(path);
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  try {
    const mvb::io::StateDict sd = mvb::io::open_safetensors(path);
    for (const auto& name : sd.names()) {
      at::Tensor t = sd.get(name);
      // Touch every byte: a view reaching past the mapping faults here (ASan/SEGV).
      if (t.numel() > 0) (void)t.to(at::kDouble).sum().item<double>();
    }
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  return 0;
}
