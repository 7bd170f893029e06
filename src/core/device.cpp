#include "medvlmbench/core/device.h"

#include <string>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/core/torch_compat.h"

namespace mvb {

c10::Device resolve_device(const std::string& spec_in) {
  const std::string spec = to_lower(trim(spec_in));
  if (spec == "auto" || spec.empty())
    return compat::cuda_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (spec == "cpu") return c10::Device(c10::kCPU);
  if (starts_with(spec, "cuda")) {
    int index = 0;
    if (spec.size() > 4) {
      MVB_USAGE_CHECK(spec[4] == ':' && spec.size() > 5 && spec.find_first_not_of("0123456789", 5) == std::string::npos,
                      "invalid --device '", spec_in, "'; use cpu, cuda, cuda:N or auto");
      index = std::stoi(spec.substr(5));
    }
    MVB_CHECK(compat::cuda_available(), "--device ", spec_in,
              " requested but this LibTorch build has no usable CUDA device (LibTorch ", compat::torch_version(),
              "); use --device cpu, or build against a CUDA LibTorch");
    MVB_CHECK(index < compat::cuda_device_count(), "--device ", spec_in, ": only ", compat::cuda_device_count(),
              " CUDA device(s) visible");
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw UsageError("invalid --device '" + spec_in + "'; use cpu, cuda, cuda:N or auto");
}

}  // namespace mvb
