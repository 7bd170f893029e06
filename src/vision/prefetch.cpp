#include "medvlmbench/vision/prefetch.h"

#include <exception>

#include "medvlmbench/core/error.h"

namespace mvb {

BatchPrefetcher::BatchPrefetcher(SampleReader& reader, PrepareFn prepare, int batch_size, int num_workers, int depth)
    : reader_(reader),
      prepare_(std::move(prepare)),
      batch_size_(std::max(1, batch_size)),
      capacity_(std::max(1, batch_size) * std::max(1, depth)),
      pool_(std::max(1, num_workers)) {}

BatchPrefetcher::~BatchPrefetcher() {
  for (auto& f : inflight_) f.wait();
}

void BatchPrefetcher::fill() {
  while (!exhausted_ && static_cast<int>(inflight_.size()) < capacity_) {
    Sample s;
    if (!reader_.next(s)) {
      exhausted_ = true;
      break;
    }
    inflight_.push_back(pool_.submit([this, s = std::move(s)]() mutable {
      PreparedSample p;
      p.sample = std::move(s);
      if (!p.sample.error.empty()) {
        p.error = p.sample.error;
        return p;
      }
      try {
        p.pixels = prepare_(p.sample);
      } catch (const std::exception& e) {
        p.error = e.what();
      }
      return p;
    }));
  }
}

bool BatchPrefetcher::next(std::vector<PreparedSample>& batch) {
  batch.clear();
  fill();
  while (!inflight_.empty() && static_cast<int>(batch.size()) < batch_size_) {
    batch.push_back(inflight_.front().get());
    inflight_.pop_front();
    fill();
  }
  return !batch.empty();
}

}  // namespace mvb
