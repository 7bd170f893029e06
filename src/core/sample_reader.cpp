#include "medvlmbench/core/sample_reader.h"

namespace mvb {

bool VectorSampleReader::next(Sample& out) {
  if (pos_ >= samples_.size()) return false;
  out = std::move(samples_[pos_++]);
  return true;
}

}  // namespace mvb
