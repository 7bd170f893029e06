#include "models/support/generative_fixtures.h"

#include "medvlmbench/io/files.h"
#include "support/test_support.h"

namespace mvb::test {

std::vector<int64_t> ids_of(const at::Tensor& t) {
  const at::Tensor f = t.to(at::kLong).reshape({-1}).contiguous();
  return std::vector<int64_t>(f.data_ptr<int64_t>(), f.data_ptr<int64_t>() + f.numel());
}

at::Tensor library_pixels(const ExpectedOutputs& e, const std::string& c) {
  const at::Tensor index = e.input(c + ".pixel_index").to(at::kLong);  // [N, 3, H, W]
  const at::Tensor lut = e.output("lut");
  std::vector<at::Tensor> channels;
  for (int64_t ch = 0; ch < 3; ++ch) channels.push_back(lut[ch].index({index.select(1, ch)}));
  return at::stack(channels, 1);
}

ModelSpec fp32_spec(const std::string& dir, const std::string& name, const nlohmann::json& options) {
  ModelSpec s;
  s.name = name;
  s.model_path = dir;
  s.dtype = "fp32";
  s.options = options.is_object() ? options : nlohmann::json::object();
  return s;
}

GenerationRequest prompt_images_request(const nlohmann::json& c) {
  GenerationRequest r;
  r.prompt = c.at("prompt").get<std::string>();
  for (const auto& p : c.at("images"))
    r.images.push_back(ImageRef::file(io::join_path(source_dir(), p.get<std::string>())));
  return r;
}

}  // namespace mvb::test
