#include "spm_module.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "medvlmbench/build_info.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"

// Built with AddressSanitizer (GCC defines __SANITIZE_ADDRESS__, clang answers __has_feature).
#if defined(__SANITIZE_ADDRESS__)
#define MVB_SPM_SANITIZER_RUNTIME 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MVB_SPM_SANITIZER_RUNTIME 1
#endif
#endif
#ifndef MVB_SPM_SANITIZER_RUNTIME
#define MVB_SPM_SANITIZER_RUNTIME 0
#endif

namespace mvb::text::spm {
namespace {

constexpr const char* kModuleName = "libmvb_spm.so";

std::string exe_dir() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string p(buf, static_cast<size_t>(n));
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

std::mutex g_mu;
Api g_api{};
bool g_loaded = false;
std::string g_path;

template <class F>
void bind(void* lib, const char* name, F& fn, const std::string& path) {
  void* sym = dlsym(lib, name);
  MVB_CHECK(sym, "sentencepiece module ", path, " lacks symbol ", name, "; rebuild it (ninja mvb_spm)");
  fn = reinterpret_cast<F>(sym);
}

}  // namespace

std::vector<std::string> module_candidates() {
  std::vector<std::string> c;
  // An explicit path is the only candidate: a wrong one is reported, not silently replaced.
  if (const char* env = std::getenv("MVB_SPM_MODULE"); env && *env) return {env};
  const std::string dir = exe_dir();
  if (!dir.empty()) {
    c.push_back(dir + "/" + kModuleName);
    c.push_back(dir + "/../" + kModuleName);                  // test binaries live one level below the build root
    c.push_back(dir + "/../lib/medvlmbench/" + kModuleName);  // installed layout
  }
  c.push_back(std::string(MVB_BINARY_DIR) + "/" + kModuleName);
  return c;
}

const Api& api() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_loaded) return g_api;
  std::string tried, last_error;
  for (const auto& path : module_candidates()) {
    if (!io::exists(path)) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
#if MVB_SPM_SANITIZER_RUNTIME
    // The sanitizer runtime refuses RTLD_DEEPBIND (it would bypass its interceptors) and aborts. A
    // separate link-map namespace keeps libsentencepiece's own protobuf-lite apart from LibTorch's
    // libprotobuf just as well; the module's C API passes only caller-owned buffers, so memory never
    // crosses the namespaces (the module itself is not instrumented).
    void* lib = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
    if (!lib) {
      last_error = dlerror();
      tried += (tried.empty() ? "" : ", ") + path + " (" + last_error + ")";
      continue;
    }
    bind(lib, "mvb_spm_abi_version", g_api.abi_version, path);
    bind(lib, "mvb_spm_load", g_api.load, path);
    bind(lib, "mvb_spm_load_no_dummy_prefix", g_api.load_no_dummy_prefix, path);
    bind(lib, "mvb_spm_free", g_api.free_handle, path);
    bind(lib, "mvb_spm_encode", g_api.encode, path);
    bind(lib, "mvb_spm_decode", g_api.decode, path);
    bind(lib, "mvb_spm_decode_pieces", g_api.decode_pieces, path);
    bind(lib, "mvb_spm_piece_size", g_api.piece_size, path);
    bind(lib, "mvb_spm_id_to_piece", g_api.id_to_piece, path);
    bind(lib, "mvb_spm_piece_to_id", g_api.piece_to_id, path);
    bind(lib, "mvb_spm_special_id", g_api.special_id, path);
    bind(lib, "mvb_spm_piece_flags", g_api.piece_flags, path);
    bind(lib, "mvb_spm_train", g_api.train, path);
    MVB_CHECK(g_api.abi_version() == 2, "sentencepiece module ", path, " has another ABI version; rebuild it");
    g_loaded = true;
    g_path = path;
    return g_api;
  }
  throw Error("a SentencePiece tokenizer (tokenizer.model) needs the module " + std::string(kModuleName) +
              ", not found (looked at: " + tried +
              "); build it with `ninja mvb_spm`, install it, or set MVB_SPM_MODULE to its path");
}

std::string module_path() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_path;
}

void train(const std::string& args) {
  char err[1024] = {0};
  MVB_CHECK(api().train(args.c_str(), err, sizeof err) == 0, "sentencepiece training failed: ", err);
}

}  // namespace mvb::text::spm
