// Plain replay driver for the fuzz harnesses in builds without libFuzzer (the normal gcc build and
// ctest): feeds every file under the given files/folders to LLVMFuzzerTestOneInput once, in sorted
// order. A harness lets anything but mvb::Error escape, so a regression aborts here and ctest fails;
// the terminate handler names the input that did it.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {
std::string g_current;  // the input being replayed, for the terminate handler

[[noreturn]] void on_terminate() {
  std::string what = "(no exception)";
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
      what = "(non-std exception)";
    }
  }
  std::fprintf(stderr, "fuzz replay: input %s escaped the harness: %s\n", g_current.c_str(), what.c_str());
  std::abort();
}
}  // namespace

int main(int argc, char** argv) {
  std::set_terminate(on_terminate);
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else if (std::filesystem::is_regular_file(p)) {
      inputs.push_back(p);
    } else {
      std::fprintf(stderr, "fuzz replay: %s is neither a file nor a folder\n", argv[i]);
      return 2;
    }
  }
  // An empty corpus would make the replay test pass without testing anything.
  if (inputs.empty()) {
    std::fprintf(stderr, "fuzz replay: no inputs found (pass corpus folders or files)\n");
    return 2;
  }
  std::sort(inputs.begin(), inputs.end());
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& p : inputs) {
    g_current = p.string();
    std::ifstream in(p, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("fuzz replay: %zu inputs in %.0f ms\n", inputs.size(), ms);
  return 0;
}
