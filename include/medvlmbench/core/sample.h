// The unit every dataset produces and every usage consumes.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace mvb {

// Raw decoded pixels, uint8, row-major HWC. Used for images that datasets store as arrays (npz).
struct PixelBuffer {
  int height = 0;
  int width = 0;
  int channels = 0;  // 1 (grayscale) or 3 (RGB)
  std::vector<uint8_t> data;
};

// Where a sample's image comes from: a file on disk, encoded bytes embedded in an annotation file
// (parquet), or raw pixels (npz). `path` is always set: for embedded images it names the source
// (e.g. "train-00000.parquet#row=12") so errors and predictions can point at it.
struct ImageRef {
  std::string path;
  std::shared_ptr<const std::string> encoded;  // PNG/JPEG bytes, when embedded
  std::shared_ptr<const PixelBuffer> pixels;   // raw pixels, when the dataset stores arrays

  static ImageRef file(std::string p) { return ImageRef{std::move(p), nullptr, nullptr}; }
};

// One (question, choice) option of a multiple-choice question, e.g. {"A", "Pneumonia"}.
struct Choice {
  std::string letter;
  std::string text;
};

struct Sample {
  std::string id;  // stable within (dataset, split): resume matches on it
  std::string split;
  std::vector<ImageRef> images;  // most samples have one; MedXpertQA may have several

  // VQA / captioning
  std::string question;         // raw question as in the annotation
  std::string prompt;           // the formatted prompt the reference would send
  std::string answer;           // reference answer / report
  std::vector<Choice> choices;  // multiple choice options, sorted by letter
  std::string question_type;    // "open", "closed" (yes/no), "multi-choice", "caption"

  // Diagnosis: class index for single-label; 0/1 per label for multi-label datasets.
  std::vector<int> labels;

  std::string modality;                                // e.g. "radiology", from the dataset (or per sample)
  nlohmann::json metadata = nlohmann::json::object();  // dataset-specific extras (organ, source ...)

  // A loader that cannot build a valid sample sets this instead of dropping it; the run records
  // an error row for it.
  std::string error;

  bool is_open() const { return question_type == "open"; }
  const std::string& image_path() const {
    static const std::string none;
    return images.empty() ? none : images.front().path;
  }
};

}  // namespace mvb
