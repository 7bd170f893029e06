// Streaming access to samples, shared by loaders (producers) and usages (consumers).
#pragma once

#include <cstdint>
#include <vector>

#include "medvlmbench/core/sample.h"

namespace mvb {

// Streams samples one at a time.
class SampleReader {
 public:
  virtual ~SampleReader() = default;
  // Fills `out` and returns true, or returns false at the end.
  virtual bool next(Sample& out) = 0;
  // Number of samples when known up front (for progress/ETA), else -1.
  virtual int64_t size_hint() const { return -1; }
};

// A reader over samples already in memory (most annotation files are small).
class VectorSampleReader : public SampleReader {
 public:
  explicit VectorSampleReader(std::vector<Sample> samples) : samples_(std::move(samples)) {}
  bool next(Sample& out) override;
  int64_t size_hint() const override { return static_cast<int64_t>(samples_.size()); }

 private:
  std::vector<Sample> samples_;
  size_t pos_ = 0;
};

}  // namespace mvb
