#include "contrastive_test_support.h"

#include <gtest/gtest.h>

#include "medvlmbench/models/model.h"
#include "support/test_support.h"

namespace mvb::test {

std::unique_ptr<ContrastiveTowers> load_contrastive(const std::string& name, const std::string& dir,
                                                    const std::string& dtype) {
  ModelSpec spec;
  spec.name = name;
  spec.model_path = dir;
  spec.dtype = dtype;
  spec.class_texts = {"a", "b"};
  return make_contrastive_towers(spec);
}

}  // namespace mvb::test
