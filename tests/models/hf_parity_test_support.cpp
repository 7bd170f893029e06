#include "hf_parity_test_support.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "medvlmbench/vision/image.h"
#include "support/test_support.h"

namespace mvb::test {

ParityInputs read_parity_inputs(const std::string& fixture_dir) {
  const auto j = nlohmann::json::parse(read_text(fixture_dir + "/fixture.json"));
  ParityInputs p;
  p.texts = j.at("texts").get<std::vector<std::string>>();
  for (const auto& rel : j.at("images")) p.images.push_back(source_dir() + "/" + rel.get<std::string>());
  return p;
}

at::Tensor our_pixels(const std::vector<std::string>& image_files, const ImageTransform& t) {
  std::vector<at::Tensor> px;
  for (const auto& f : image_files) px.push_back(load_preprocessed(ImageRef::file(f), t));
  return at::stack(px);
}

double report_diff(const std::string& what, const at::Tensor& ours, const at::Tensor& library) {
  const double d = max_abs_diff(ours, library);
  std::printf("[measured] %s: max |ours - transformers| = %.3g\n", what.c_str(), d);
  ::testing::Test::RecordProperty(what, std::to_string(d));
  return d;
}

void copy_non_weight_files(const std::string& src, const std::string& dst) {
  namespace fs = std::filesystem;
  for (const auto& e : fs::directory_iterator(src)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && ext != ".safetensors" && ext != ".bin")
      fs::copy_file(e.path(), fs::path(dst) / e.path().filename(), fs::copy_options::overwrite_existing);
  }
}

}  // namespace mvb::test
