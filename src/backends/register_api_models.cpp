// The API backends in the model registry. Default ids are the providers' real ids (the reference
// substituted o3-2025-04-16 and a Gemini Flash preview through a proxy; see docs).
#include "medvlmbench/backends/api_model.h"

namespace mvb::api {
namespace {

const std::vector<std::string> kTasks = {"vqa", "caption"};

Provider openai_provider(std::string default_model) {
  return Provider{"openai",
                  Protocol::kResponses,
                  "https://api.openai.com/v1",
                  std::move(default_model),
                  {"OPENAI_API_KEY"},
                  /*key_required=*/true,
                  "Authorization: Bearer "};
}

Provider gemini_provider(std::string default_model) {
  return Provider{"gemini",
                  Protocol::kGemini,
                  "https://generativelanguage.googleapis.com/v1beta",
                  std::move(default_model),
                  {"GEMINI_API_KEY", "GOOGLE_API_KEY"},
                  /*key_required=*/true,
                  "x-goog-api-key: "};
}

Provider compatible_provider() {
  return Provider{"openai-compatible",    Protocol::kChat,         "", "", {"MVB_API_KEY"},
                  /*key_required=*/false, "Authorization: Bearer "};
}

ModelEntry entry(std::string description, Provider p) {
  return ModelEntry{"generative", kTasks, std::move(description), false,
                    [p](const ModelSpec& spec) { return make_api_model(p, spec); }};
}

}  // namespace

MVB_REGISTER(model_registry(), "o3",
             entry("OpenAI o3 over the Responses API ($OPENAI_API_KEY; --api_protocol chat for Chat Completions, "
                   "--api_model for a snapshot id)",
                   openai_provider("o3")));
MVB_REGISTER(model_registry(), "gemini-2.5-pro",
             entry("Google Gemini 2.5 Pro over generateContent ($GEMINI_API_KEY or $GOOGLE_API_KEY)",
                   gemini_provider("gemini-2.5-pro")));
MVB_REGISTER(model_registry(), "openai",
             entry("Any OpenAI model: --api_model ID ($OPENAI_API_KEY; Responses API, or --api_protocol chat)",
                   openai_provider("")));
MVB_REGISTER(model_registry(), "gemini",
             entry("Any Gemini model: --api_model ID ($GEMINI_API_KEY or $GOOGLE_API_KEY)", gemini_provider("")));
MVB_REGISTER(model_registry(), "openai-compatible",
             entry("Any OpenAI-compatible server (vLLM, SGLang, LMDeploy, TGI, llama.cpp, Ollama) at --api_base; "
                   "--api_model (default: the server's first model); optional key in $MVB_API_KEY",
                   compatible_provider()));

}  // namespace mvb::api
