#include "medvlmbench/models/build.h"

#include <nlohmann/json.hpp>

#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"

namespace mvb {

std::unique_ptr<Model> build_model(const std::string& name, const ModelEntry& entry, const ModelSpec& spec) {
  try {
    return entry.factory(spec);
  } catch (const nlohmann::json::exception& e) {
    // The typed readers (nn::hf::get_int ...) name file and key themselves; this is the net for the
    // rest, which would otherwise print only "[json.exception.type_error.302] type must be number".
    throw Error("model " + name + ": a JSON file of the checkpoint " + spec.model_path +
                " has a value of the wrong type (" + e.what() + "); compare it with the original release's files");
  }
}

std::string model_for_checkpoint(const io::CheckpointSummary& s) {
  const std::string& t = s.model_type;
  if (t == "clip") return "CLIP";
  if (t == "siglip") return "SigLIP";
  if (t == "medclip") return "MedCLIP";
  if (t == "pmc_clip") return "PMCCLIP";
  if (t == "qwen2_vl") return "Qwen2-VL";
  if (t == "qwen2_5_vl") return "Qwen25-VL";
  if (t.find("llava") != std::string::npos) return t.find("mistral") != std::string::npos ? "LLaVA-Med" : "LLaVA-1.5";
  if (starts_with(s.architecture, "open_clip")) return "BioMedCLIP";
  return "";
}

}  // namespace mvb
