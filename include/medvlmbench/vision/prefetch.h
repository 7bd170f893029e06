// Ordered, bounded prefetching: while the model works on one batch, worker threads decode and
// preprocess the next ones. Output order equals input order; a sample whose image fails comes back
// with `error` set instead of stopping the run.
#pragma once

#include <ATen/core/Tensor.h>

#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "medvlmbench/core/sample.h"
#include "medvlmbench/core/sample_reader.h"
#include "medvlmbench/core/thread_pool.h"

namespace mvb {

struct PreparedSample {
  Sample sample;
  at::Tensor pixels;  // undefined when error is set
  std::string error;
};

class BatchPrefetcher {
 public:
  using PrepareFn = std::function<at::Tensor(const Sample&)>;
  // Keeps up to batch_size * depth samples in flight.
  BatchPrefetcher(SampleReader& reader, PrepareFn prepare, int batch_size, int num_workers, int depth = 3);
  ~BatchPrefetcher();
  // Fills `batch` with up to batch_size samples; returns false when nothing is left.
  bool next(std::vector<PreparedSample>& batch);

 private:
  void fill();

  SampleReader& reader_;
  PrepareFn prepare_;
  int batch_size_;
  int capacity_;
  bool exhausted_ = false;
  ThreadPool pool_;
  std::deque<std::future<PreparedSample>> inflight_;
};

}  // namespace mvb
