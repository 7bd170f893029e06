// --device parsing: "cpu", "cuda", "cuda:N", or "auto" (CUDA when available, else CPU).
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace mvb {

// Throws UsageError for a malformed spec and Error when CUDA is requested but unavailable.
c10::Device resolve_device(const std::string& spec);

}  // namespace mvb
