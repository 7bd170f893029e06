// Times the native dataset-file readers on large inputs: a parquet file (every column, all row
// groups) and one array of an npz archive. scripts/bench_dataset_readers.sh builds the inputs and
// runs the reference readers (parquet-wasm, numpy) in the same command to report ratios.
//
// usage: bench_dataset_readers FILE.parquet FILE.npz KEY [REPEATS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "medvlmbench/io/npz.h"
#include "medvlmbench/io/parquet.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s FILE.parquet FILE.npz KEY [REPEATS]\n", argv[0]);
    return 2;
  }
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
  using clock = std::chrono::steady_clock;
  double best_parquet = 1e30, best_npz = 1e30;
  size_t bytes = 0;
  int64_t elems = 0;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = clock::now();
    mvb::io::ParquetFile f(argv[1]);
    bytes = 0;
    for (int c = 0; c < static_cast<int>(f.columns().size()); ++c) {
      const auto v = f.read_all(c);
      for (const auto& b : v.bytes) bytes += b.size();
    }
    best_parquet = std::min(best_parquet, std::chrono::duration<double>(clock::now() - t0).count());
    t0 = clock::now();
    const auto a = mvb::io::NpzFile(argv[2]).read(argv[3]);
    elems = a.numel();
    best_npz = std::min(best_npz, std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::printf("{\"parquet_s\": %.4f, \"parquet_bytes\": %zu, \"npz_s\": %.4f, \"npz_elems\": %lld}\n", best_parquet,
              bytes, best_npz, static_cast<long long>(elems));
  return 0;
}
