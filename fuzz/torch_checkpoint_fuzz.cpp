// Fuzz target: torch.save checkpoints (io/torch_checkpoint.h) end to end on arbitrary file bytes:
// format sniffing, the zip container (LibTorch's PyTorchStreamReader plus our stored-entry checks),
// the legacy (pre-1.6) and tar formats, the unpickler and tensor views, then materialising every
// tensor accepted.
#include <ATen/ATen.h>

#include "fuzz_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/state_dict.h"
#include "medvlmbench/io/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mvb::fuzz::write_scratch("input.bin", data, size);
  try {
    const mvb::io::StateDict sd = mvb::io::open_torch_checkpoint(path);
    for (const auto& name : sd.names()) {
      at::Tensor t = sd.get(name);
      if (t.numel() > 0) (void)t.to(at::kDouble).sum().item<double>();
    }
  } catch (const mvb::Error& e) {
    mvb::fuzz::refused(e);
  }
  return 0;
}
