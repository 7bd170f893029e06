#include "contrastive_test_support.h"

#include <gtest/gtest.h>

#include <limits>

#include "medvlmbench/io/safetensors.h"
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

std::map<std::string, at::Tensor> run_reference(const std::string& script, const std::string& ckpt,
                                                const std::map<std::string, at::Tensor>& inputs) {
  TempDir tmp;
  std::vector<std::pair<std::string, at::Tensor>> named(inputs.begin(), inputs.end());
  io::write_safetensors(tmp / "in.safetensors", named);
  const std::string py = system_python();
  if (py.empty()) {
    ADD_FAILURE() << "Debian's /usr/bin/python3 (with python3-torch) is required for the reference oracle";
    return {};
  }
  CommandResult r = run_command(
      {py, source_dir() + "/tests/oracles/models/" + script, ckpt, tmp / "in.safetensors", tmp / "out.safetensors"});
  if (r.exit_code != 0) {
    ADD_FAILURE() << script << " failed (" << r.exit_code << "): " << r.err;
    return {};
  }
  io::StateDict sd = io::open_safetensors(tmp / "out.safetensors");
  std::map<std::string, at::Tensor> out;
  for (const auto& n : sd.names()) out[n] = sd.get(n).clone();
  return out;
}

}  // namespace mvb::test
