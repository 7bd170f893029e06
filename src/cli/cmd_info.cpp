// list, check and version.
#include <c10/util/Exception.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <opencv2/core/version.hpp>

#include "commands.h"
#include "medvlmbench/build_info.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/core/torch_compat.h"
#include "medvlmbench/datasets/dataset.h"
#include "medvlmbench/io/checkpoint_inspect.h"
#include "medvlmbench/io/files.h"
#include "medvlmbench/models/build.h"
#include "medvlmbench/models/checkpoint_path.h"
#include "medvlmbench/models/model.h"
#include "medvlmbench/nn/openblas_kernels.h"
#include "medvlmbench/tasks/task.h"
#include "medvlmbench/tasks/usage.h"

namespace mvb::cli {
namespace {

std::vector<std::string> usages_for_model(const ModelEntry& m) {
  std::set<std::string> out;
  for (const auto& kv : usage_registry().entries()) {
    const UsageEntry& u = kv.second;
    const std::string family = m.for_task(u.task).family;
    const bool family_ok = std::find(u.families.begin(), u.families.end(), family) != u.families.end();
    const bool task_ok = std::find(m.tasks.begin(), m.tasks.end(), u.task) != m.tasks.end();
    if (family_ok && task_ok) out.insert(u.usage + "(" + u.task + ")");
  }
  return {out.begin(), out.end()};
}

nlohmann::json list_json(const std::string& what) {
  nlohmann::json j = nlohmann::json::object();
  if (what == "all" || what == "models") {
    j["models"] = nlohmann::json::array();
    for (const auto& [name, m] : model_registry().entries())
      j["models"].push_back({{"name", name},
                             {"family", m.family},
                             {"tasks", m.tasks},
                             {"usages", usages_for_model(m)},
                             {"needs_checkpoint", m.needs_checkpoint},
                             {"description", m.description}});
  }
  if (what == "all" || what == "datasets") {
    j["datasets"] = nlohmann::json::array();
    for (const auto& [name, e] : dataset_registry().entries()) {
      auto ds = e.factory();
      const DatasetInfo& i = ds->info();
      j["datasets"].push_back({{"name", name},
                               {"tasks", i.tasks},
                               {"splits", i.splits},
                               {"classes", i.class_texts},
                               {"multi_label", i.multi_label},
                               {"modality", i.modality},
                               {"layout", i.layout},
                               {"description", i.description},
                               {"aliases", i.aliases}});
    }
  }
  if (what == "all" || what == "tasks") {
    j["tasks"] = nlohmann::json::array();
    for (const auto& [name, t] : task_registry().entries())
      j["tasks"].push_back({{"name", name}, {"description", t.description}});
  }
  for (const std::string kind : {"usages", "agents"}) {
    if (what != "all" && what != kind) continue;
    j[kind] = nlohmann::json::array();
    for (const auto& [key, u] : usage_registry().entries()) {
      if ((kind == "agents") != (u.kind == "agent")) continue;
      j[kind].push_back({{"name", u.usage},
                         {"task", u.task},
                         {"kind", u.kind},
                         {"families", u.families},
                         {"description", u.description}});
    }
  }
  return j;
}

void print_table(const std::string& title, const std::vector<std::vector<std::string>>& rows) {
  std::cout << title << "\n";
  if (rows.empty()) {
    std::cout << "  (none registered yet)\n\n";
    return;
  }
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  for (const auto& r : rows) {
    std::cout << " ";
    for (size_t c = 0; c < r.size(); ++c) {
      std::cout << " " << r[c];
      if (c + 1 < r.size()) std::cout << std::string(width[c] - r[c].size(), ' ');
    }
    std::cout << "\n";
  }
  std::cout << "\n";
}

std::string list_str(const nlohmann::json& a) {
  std::vector<std::string> v;
  for (const auto& x : a) v.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  return join(v, ",");
}

}  // namespace

int cmd_list(const ListOptions& o) {
  const nlohmann::json j = list_json(o.what);
  if (o.format == "json") {
    std::cout << j.dump(2) << std::endl;
    return 0;
  }
  if (j.contains("models")) {
    std::vector<std::vector<std::string>> rows{{"NAME", "FAMILY", "TASKS", "USAGES", "DESCRIPTION"}};
    for (const auto& m : j["models"])
      rows.push_back({m["name"], m["family"], list_str(m["tasks"]), list_str(m["usages"]), m["description"]});
    print_table("Models", rows.size() > 1 ? rows : decltype(rows){});
  }
  if (j.contains("datasets")) {
    std::vector<std::vector<std::string>> rows{{"NAME", "TASKS", "SPLITS", "MODALITY", "LABELS", "CLASSES"}};
    for (const auto& d : j["datasets"]) {
      std::vector<std::string> classes;
      for (const auto& c : d["classes"]) classes.push_back("\"" + c.get<std::string>() + "\"");
      rows.push_back({d["name"], list_str(d["tasks"]), list_str(d["splits"]), d["modality"],
                      d["multi_label"].get<bool>() ? "multi-label" : (classes.empty() ? "-" : "single-label"),
                      join(classes, " ")});
    }
    print_table("Datasets", rows.size() > 1 ? rows : decltype(rows){});
  }
  if (j.contains("tasks")) {
    std::vector<std::vector<std::string>> rows{{"NAME", "DESCRIPTION"}};
    for (const auto& t : j["tasks"]) rows.push_back({t["name"], t["description"]});
    print_table("Tasks", rows.size() > 1 ? rows : decltype(rows){});
  }
  for (const std::string kind : {"usages", "agents"}) {
    if (!j.contains(kind)) continue;
    std::vector<std::vector<std::string>> rows{{"NAME", "TASK", "KIND", "MODEL FAMILIES", "DESCRIPTION"}};
    for (const auto& u : j[kind])
      rows.push_back({u["name"], u["task"], u["kind"], list_str(u["families"]), u["description"]});
    print_table(kind == "usages" ? "Usages" : "Agents", rows.size() > 1 ? rows : decltype(rows){});
  }
  return 0;
}

int cmd_check(const CheckOptions& o) {
  MVB_USAGE_CHECK(!o.dataset.empty() || !o.model_path.empty(),
                  "check needs --dataset NAME --image_path DIR, or --model_path DIR");
  nlohmann::json out = nlohmann::json::object();
  bool ok = true;
  if (!o.dataset.empty()) {
    MVB_USAGE_CHECK(!o.image_path.empty(), "check --dataset needs --image_path DIR (the dataset folder)");
    auto ds = dataset_registry().get(o.dataset).factory();
    const std::string task = o.task.empty() ? ds->info().tasks.front() : o.task;
    MVB_CHECK(io::exists(o.image_path), "--image_path ", o.image_path,
              " does not exist; expected layout: ", ds->info().layout);
    CheckReport rep = ds->check(o.image_path, task);
    ok = ok && rep.ok;
    out["dataset"] = {{"name", ds->info().name},      {"task", task},
                      {"root", o.image_path},         {"ok", rep.ok},
                      {"counts", rep.counts},         {"problems", rep.problems},
                      {"expected_layout", rep.layout}};
  }
  if (!o.model_path.empty()) {
    // As eval/train resolve it: a folder, a hub id, or (with --model) original_pretrained / not_given,
    // looked up in models/ and the hub cache.
    ResolvedModelPath ckpt;
    if (!o.model.empty()) {
      const std::string name = model_registry().canonical(o.model);
      // The task's own reference checkpoint where the model has one per task (BLIP).
      ckpt = resolve_model_path(name, model_registry().get(name).for_task(o.task), o.model_path, o.cache_dir);
    } else {
      ckpt = resolve_checkpoint_folder(o.model_path, o.cache_dir);
    }
    MVB_USAGE_CHECK(ckpt.source != "not needed", "--model ", o.model, " reads no checkpoint; nothing to check");
    io::CheckpointSummary s = io::inspect_checkpoint(ckpt.folder);
    // Then build the model as eval would (config, tokenizer, processor, weights), so check refuses what
    // eval refuses: a zero patch size, zero heads, a vocab that is not JSON, a zero crop size ...
    const std::string build_as = !o.model.empty() ? model_registry().canonical(o.model) : model_for_checkpoint(s);
    if (build_as.empty()) {
      s.problems.push_back(
          "cannot tell which model this checkpoint is for (no config.json model_type it knows); "
          "give --model NAME so check builds it as eval would");
    } else {
      ModelSpec spec;
      spec.name = build_as;
      spec.model_path = ckpt.folder;
      spec.device = c10::Device(c10::kCPU);
      spec.dtype = o.dtype;
      RunConfig defaults;
      defaults.model = build_as;
      spec.options = defaults.model_options();
      try {
        build_model(build_as, model_registry().get(build_as), spec);
      } catch (const UsageError&) {
        throw;
      } catch (const c10::Error& e) {
        s.problems.push_back("building " + build_as + " as eval does: LibTorch: " + e.what_without_backtrace());
      } catch (const std::exception& e) {
        s.problems.push_back("building " + build_as + " as eval does: " + e.what());
      }
    }
    ok = ok && s.problems.empty();
    out["model"] = s.to_json();
    out["model"]["resolved"] = ckpt.to_json();
    out["model"]["built_as"] = build_as;
  }
  if (o.format == "json") {
    std::cout << out.dump(2) << std::endl;
    return ok ? 0 : 1;
  }
  if (out.contains("dataset")) {
    const auto& d = out["dataset"];
    std::cout << "dataset " << d["name"].get<std::string>() << " (" << d["task"].get<std::string>() << ") at "
              << d["root"].get<std::string>() << ": " << (d["ok"].get<bool>() ? "OK" : "PROBLEMS") << "\n";
    for (const auto& [k, v] : d["counts"].items()) std::cout << "  " << k << ": " << v << "\n";
    for (const auto& p : d["problems"]) std::cout << "  problem: " << p.get<std::string>() << "\n";
    if (!d["ok"].get<bool>()) std::cout << "  expected layout: " << d["expected_layout"].get<std::string>() << "\n";
  }
  if (out.contains("model")) {
    const auto& r = out["model"]["resolved"];
    if (r["source"] != "folder")
      std::cout << "--model_path " << r["requested"].get<std::string>() << " -> " << r["hub_id"].get<std::string>()
                << (r["revision"].get<std::string>().empty() ? std::string() : " @ " + r["revision"].get<std::string>())
                << " (" << r["source"].get<std::string>() << ")\n";
    std::cout << io::format_checkpoint_summary(out["model"]);
    if (!out["model"]["built_as"].get<std::string>().empty())
      std::cout << "  built as " << out["model"]["built_as"].get<std::string>() << ", as eval builds it\n";
  }
  return ok ? 0 : 1;
}

std::string version_string() { return std::string(MVB_VERSION) + " (" + MVB_GIT_COMMIT + ")"; }

int cmd_version(const std::string& format) {
  // eval, train and score re-execute themselves onto faster OpenBLAS kernels (nn/openblas_kernels.h).
  const nn::OpenblasKernels blas = nn::openblas_kernels();
  const bool reexec = !blas.user_set && !blas.better.empty();
  nlohmann::json j = {{"medvlmbench", MVB_VERSION},
                      {"git_commit", MVB_GIT_COMMIT},
                      {"build_type", MVB_BUILD_TYPE},
                      {"libtorch", compat::torch_version()},
                      {"libtorch_cuda", compat::cuda_build_version()},
                      {"cuda_available", compat::cuda_available()},
                      {"cuda_devices", compat::cuda_device_count()},
                      {"openblas_kernels", blas.loaded},
                      {"openblas_kernels_for_runs", reexec ? blas.better : blas.loaded},
                      {"opencv", CV_VERSION},
                      {"compiler", __VERSION__}};
  if (format == "json") {
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cout << "medvlmbench " << version_string() << " [" << MVB_BUILD_TYPE << "]\n"
              << "LibTorch " << j["libtorch"].get<std::string>()
              << (compat::cuda_build_version().empty() ? std::string(" (CPU only)")
                                                       : " (CUDA " + compat::cuda_build_version() + ")")
              << ", CUDA device "
              << (compat::cuda_available() ? "available (" + std::to_string(compat::cuda_device_count()) + " device(s))"
                                           : std::string("not available"))
              << (blas.loaded.empty() ? std::string() : "\nOpenBLAS kernels " + blas.loaded)
              << (reexec ? " (eval, train and score run with " + blas.better + ")" : std::string()) << "\nOpenCV "
              << CV_VERSION << ", compiler GCC " << __VERSION__ << "\n";
  }
  return 0;
}

}  // namespace mvb::cli
