#include "contrastive_test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "medvlmbench/models/model.h"
#include "medvlmbench/vision/image.h"
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

double expect_preprocessing_parity(ContrastiveTowers& model, const ExpectedOutputs& ref,
                                   const std::string& embeds_prefix) {
  double worst = 0;
  for (const std::string name : {"image_gray", "image_rgb"}) {
    SCOPED_TRACE(name);
    const at::Tensor ours = preprocess(
        decode_image(ImageRef::file(fixture_path("models/preprocess-images/" + name + ".png"))), model.transform());
    const double d = max_abs_diff(ours, ref.output("preprocessed_" + name));
    EXPECT_LT(d, 1e-5);
    std::cout << "[ parity   ] preprocessing " << name << ": max |diff| " << d << "\n";
    worst = std::max(worst, d);
    EXPECT_LT(max_abs_diff(model.encode_image(ours.unsqueeze(0))[0], ref.output(embeds_prefix + name)), 1e-4);
  }
  return worst;
}

}  // namespace mvb::test
