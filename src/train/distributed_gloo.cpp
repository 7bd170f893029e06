// The Gloo process group (CPU training). ProcessGroupGloo.hpp includes gloo's own headers, which
// neither Debian's libtorch-dev nor the PyPI wheel ship: Debian's libgloo-dev provides them (the
// library Debian's LibTorch is linked against); src/train/area.cmake defines MVB_HAVE_GLOO when found.
#include <cstdlib>
#include <string>

#include "distributed_backend.h"
#include "medvlmbench/core/error.h"

#if defined(MVB_HAVE_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

namespace mvb::train::detail {

bool gloo_compiled(std::string* why) {
#if defined(MVB_HAVE_GLOO)
  (void)why;
  return true;
#else
  if (why)
    *why =
        "this build has no Gloo backend (gloo's headers were not found at configure time: apt-get install "
        "libgloo-dev, then configure again)";
  return false;
#endif
}

c10::intrusive_ptr<Collectives> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                                          std::chrono::milliseconds timeout) {
#if defined(MVB_HAVE_GLOO)
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  // As torch.distributed: GLOO_SOCKET_IFNAME picks the network interface, else the address this host's
  // name resolves to (loopback when it resolves to none).
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname != nullptr && *ifname != '\0') {
    std::string first(ifname);
    first = first.substr(0, first.find(','));
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(first));
  } else {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
#else
  (void)store, (void)rank, (void)size, (void)timeout;
  std::string why;
  gloo_compiled(&why);
  throw Error("data parallel training on CPU needs Gloo: " + why);
#endif
}

}  // namespace mvb::train::detail
