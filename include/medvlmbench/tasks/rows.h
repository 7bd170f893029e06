// The schema of predictions.jsonl rows, shared by usage runners (writers) and task evaluators
// (readers). One JSON object per sample. Every row has "id" and "image_path"; failed samples have
// "status": "failed" and "error" (see error_row in usage.h) and are counted, not scored.
//
// diagnosis:  {"id", "image_path", "label": [int...], "pred": int | [int...] (multi-label),
//              "scores": [double...] (per-class probabilities; per-label for multi-label)}
// vqa:        {"id", "image_path", "question", "prompt", "answer", "prediction",
//              "question_type": "open" | "closed" | "multi-choice",
//              "choices": [{"letter": "A", "text": "..."}...]      (multi-choice only),
//              "modality", "metadata": {...},
//              "prompt_tokens", "completion_tokens", "latency_s"   (when known),
//              "trace": {...}      (agent wrappers: the reference's trace, copied to predictions.json),
//              "agent": {...}      (agent wrappers: every call and the sample's counts; docs/agents.md)}
// caption:    {"id", "image_path", "prompt", "answer" (the reference report), "prediction",
//              "prompt_tokens", "completion_tokens", "latency_s", "trace", "agent" (agent wrappers)}
//
// LLM judge output is added to vqa rows by `medvlmbench judge`: "judge": {"score": 0-100, "rationale",
// "model", "rubric_version"}. Its MC mode (`judge --mode mc`, for MedXpertQA/OmniMedVQA answers the
// letter regex cannot parse) adds "judge_mc": {"letter", "correct", "raw", "model", "prompt_version"}.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>

namespace mvb {

// A failed row as the reference's predictions.json logs it: {image_path, prediction: "", error,
// status: "failed"} plus those of `keys` the row holds (the question, the answer ...).
nlohmann::json reference_failed_row(const nlohmann::json& row, std::initializer_list<const char*> keys);

}  // namespace mvb
