// Our image processors against the models' own transformers image processors (PIL backend, i.e.
// use_fast=False), on real image files: file -> decode_image -> our processor configured from the
// checkpoint's published preprocessor_config.json, compared with the pixel_values that
// tests/oracles/vision/make_processor_fixtures.py saved (tests/fixtures/vision/processors).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "medvlmbench/core/error.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/vision/image.h"
#include "medvlmbench/vision/preprocessor.h"
#include "support/expected_outputs.h"
#include "support/test_support.h"

using namespace mvb;

namespace {

const std::string kDir = "vision/processors";

// pixel_values rebuilt from the stored 8-bit index (channel at dim 1) and the checkpoint's table of the
// processor's own rescale + normalize values: the library's floats, bit for bit.
at::Tensor library_pixels(const test::ExpectedOutputs& e, const std::string& name, const std::string& checkpoint) {
  const at::Tensor index = e.output(name + ".pixel_index");
  const at::Tensor lut = e.output(checkpoint + ".lut");
  if (!index.defined() || !lut.defined()) return {};
  std::vector<at::Tensor> channels;
  for (int64_t c = 0; c < 3; ++c) channels.push_back(lut[c].index({index.select(1, c).to(at::kLong)}));
  return at::stack(channels, 1);
}

// "[i, j, ...] ours vs library" of the first element that differs, to point at the failing pixel.
std::string first_difference(const at::Tensor& ours, const at::Tensor& library) {
  const at::Tensor ne = (ours != library).nonzero();
  if (ne.size(0) == 0) return "none";
  std::ostringstream s;
  std::vector<at::indexing::TensorIndex> at_index;
  s << "[";
  for (int64_t d = 0; d < ne.size(1); ++d) {
    s << (d ? ", " : "") << ne[0][d].item<int64_t>();
    at_index.emplace_back(ne[0][d].item<int64_t>());
  }
  s << "] " << ours.index(at_index).item<float>() << " vs " << library.index(at_index).item<float>() << " ("
    << ne.size(0) << " elements differ)";
  return s.str();
}

struct Ours {
  at::Tensor pixels;  // channel at dim 1, shaped like the stored index
  int64_t num_patches = -1;
};

Ours run_ours(const nlohmann::json& c, const std::string& folder, const RgbImage& img) {
  const std::string kind = c.at("kind");
  const nlohmann::json cfg = io::read_json(io::join_path(folder, "preprocessor_config.json"));
  Ours o;
  if (kind == "plain" || kind == "llava_pad") {
    ImageTransform t = load_image_transform(folder);
    if (kind == "llava_pad") t.pad_to_square = true;  // LLaVA's image_aspect_ratio "pad"
    o.pixels = preprocess(img, t).unsqueeze(0);
  } else if (kind == "internvl") {
    InternVLConfig v = internvl_config_from_json(cfg, folder);
    // The per-call size the generator passed (InternVLProcessor forwards images_kwargs).
    const auto call = c.value("call_kwargs", nlohmann::json::object());
    if (call.contains("size")) {
      v.tile_height = call["size"].at("height");
      v.tile_width = call["size"].at("width");
    }
    const InternVLPixels p = internvl_preprocess(img, v);
    o.pixels = p.pixel_values;
    o.num_patches = p.num_patches;
  } else {
    ADD_FAILURE() << "unknown case kind " << kind;
  }
  return o;
}

}  // namespace

TEST(ProcessorParity, MatchesTransformersPilBackendBitForBit) {
  const std::string root = test::fixture_path(kDir);
  const nlohmann::json fixture = io::read_json(io::join_path(root, "fixture.json"));
  const test::ExpectedOutputs e = test::read_expected(root);
  ASSERT_GE(fixture.at("cases").size(), 10u);
  nlohmann::json measured = nlohmann::json::object();
  double worst = 0;
  for (const auto& [name, c] : fixture.at("cases").items()) {
    SCOPED_TRACE(name);
    // Qwen2VLImageProcessor's cases run beside the model that owns that processor
    // (tests/models/qwen2_vl_test.cpp, Qwen2VLProcessor.ProcessorFixtureCasesBitForBit).
    if (c.at("kind") == "qwen") continue;
    const std::string checkpoint = c.at("checkpoint");
    const RgbImage img =
        decode_image(ImageRef::file(io::join_path(root, "images/" + c.at("image").get<std::string>())));
    const Ours ours = run_ours(c, io::join_path(root, checkpoint), img);
    const at::Tensor expected = library_pixels(e, name, checkpoint);
    ASSERT_TRUE(expected.defined());
    ASSERT_EQ(ours.pixels.sizes(), expected.sizes()) << "pixel_values shape differs from the library's";
    const double diff = test::max_abs_diff(ours.pixels, expected);
    measured[name] = diff;
    worst = std::max(worst, diff);
    // Bit-exact: PIL's resampling transcribed, then the same float32 rescale / normalize as numpy.
    EXPECT_EQ(diff, 0.0) << "first differing element: " << first_difference(ours.pixels, expected);
    if (c.contains("num_patches")) {
      EXPECT_EQ(ours.num_patches, e.output(name + ".num_patches").item<int64_t>());
    }
  }
  // The generator records these in fixture.json (--measured).
  std::cout << "processor_parity max_abs_diff per case: " << measured.dump() << "\nworst: " << worst << "\n";
}

TEST(ProcessorParity, FixtureRecordsWhatProducedIt) {
  const nlohmann::json fixture = io::read_json(io::join_path(test::fixture_path(kDir), "fixture.json"));
  EXPECT_EQ(fixture.at("generator"), "tests/oracles/vision/make_processor_fixtures.py");
  EXPECT_TRUE(fixture.at("library").contains("transformers"));
  EXPECT_FALSE(fixture.contains("provisional"));
  for (const auto& [name, c] : fixture.at("cases").items()) {
    SCOPED_TRACE(name);
    EXPECT_NE(c.at("pil_backend_class").get<std::string>().find("Pil"), std::string::npos);
    EXPECT_TRUE(c.contains("fast_vs_pil_max_abs_diff"));
  }
}

TEST(ProcessorParity, ConfigsReadAsTransformersReadsThem) {
  const std::string root = test::fixture_path(kDir);
  // The legacy CLIPFeatureExtractor form: bare ints are the shortest edge and a square crop.
  ImageTransform clip = load_image_transform(io::join_path(root, "clip-vit-base-patch16"));
  EXPECT_EQ(clip.resize_mode, "shortest_edge");
  EXPECT_EQ(clip.resize, 224);
  EXPECT_EQ(clip.crop, 224);
  ImageTransform med = load_image_transform(io::join_path(root, "medsiglip-448"));  // nulls mean defaults
  EXPECT_EQ(med.resize_mode, "exact");
  EXPECT_EQ(med.resize_width, 448);
  EXPECT_EQ(med.interpolation, "bilinear");
  const InternVLConfig v = internvl_config_from_json(
      io::read_json(io::join_path(root, "InternVL3-8B-hf/preprocessor_config.json")), "InternVL3-8B-hf");
  EXPECT_EQ(v.tile_width, 448);
  EXPECT_EQ(v.max_patches, 12);
  EXPECT_TRUE(v.crop_to_patches);  // InternVLProcessor's call default, whatever the config stores
  EXPECT_FLOAT_EQ(v.mean[0], 0.485f);
  // LlavaImageProcessor's do_pad is the pad to a square; nothing else's do_pad is.
  EXPECT_TRUE(image_transform_from_json({{"image_processor_type", "LlavaImageProcessor"}, {"do_pad", true}}, "x")
                  .pad_to_square);
  EXPECT_FALSE(image_transform_from_json({{"image_processor_type", "SiglipImageProcessor"}, {"do_pad", true}}, "x")
                   .pad_to_square);
  EXPECT_THROW(internvl_config_from_json({{"size", {{"shortest_edge", 448}}}}, "x"), Error);
  EXPECT_THROW(internvl_config_from_json({{"min_patches", 4}, {"max_patches", 2}}, "x"), Error);
}

TEST(ProcessorParity, InternVLGridFollowsTransformersOrder) {
  // A tall 48 x 136 image on 32-pixel tiles ties (1, 3) with (2, 6); its area (6528) exceeds half of
  // 12 tiles (6144), so transformers takes the larger grid.
  EXPECT_EQ(internvl_grid(48, 136, 1, 12, 32, 32), std::make_pair(2, 6));
  EXPECT_EQ(internvl_grid(48, 136, 1, 12, 448, 448), std::make_pair(1, 3));
}
