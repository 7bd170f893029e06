// MedCLIP-ViT (the release's pytorch_model.bin + Swin/BERT configs) on the tiny fixture, checked against
// scripts/reference/medclip_reference.py: a PROVISIONAL oracle (python3-torch port of MedCLIP's
// modeling_medclip.py and transformers' Swin and BERT), until a device session regenerates it with
// transformers itself. The fixture's Swin pads every stage's map to its window, shifts windows and
// merges an odd-sized map; the 53-pixel input adds the patch embedding's own padding.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "contrastive_test_support.h"
#include "medvlmbench/core/error.h"
#include "medvlmbench/nn/bert.h"
#include "medvlmbench/vision/image.h"
#include "support/test_support.h"

namespace mvb::test {
namespace {

const char* kDir = "models/tiny-medclip";

TEST(MedClipModel, MatchesProvisionalReference) {
  const std::string dir = fixture_path(kDir);
  auto model = load_contrastive("MedCLIP", dir);
  ASSERT_TRUE(model);
  // Padded rows: MedCLIP's text pooling averages every position, padding included.
  at::Tensor ids = at::tensor({2L, 5L, 6L, 7L, 8L, 3L, 2L, 14L, 15L, 3L, 0L, 0L}, at::kLong).view({2, 6});
  at::Tensor mask = (ids != 0).to(at::kLong);
  for (int64_t side : {52, 53}) {
    SCOPED_TRACE("image side " + std::to_string(side));
    at::manual_seed(side);
    std::map<std::string, at::Tensor> in = {
        {"pixel_values", at::randn({2, 3, side, side})}, {"input_ids", ids}, {"attention_mask", mask}};
    auto ref = run_reference("medclip_reference.py", dir, in);
    ASSERT_FALSE(ref.empty());
    at::NoGradGuard no_grad;
    at::Tensor img = model->encode_image(in["pixel_values"]);
    at::Tensor txt = model->text_features(TextBatch{ids, mask});
    EXPECT_LT(max_abs_diff(img, ref["image_embeds"]), 1e-4) << "image embeddings vs provisional oracle";
    EXPECT_LT(max_abs_diff(txt, ref["text_embeds"]), 1e-4) << "text embeddings vs provisional oracle";
    EXPECT_LT(max_abs_diff(model->logits_per_image(img, txt), ref["logits_per_image"]), 1e-3);
    EXPECT_GT((img[0] - img[1]).abs().max().item<double>(), 1e-3);  // not a constant
  }
  // Say which kind of oracle this was (fixture.json records it; a device session replaces it).
  const bool provisional = nlohmann::json::parse(read_text(dir + "/fixture.json")).value("provisional", false);
  EXPECT_TRUE(provisional) << "fixture.json no longer says provisional: compare against its stored outputs instead";
  RecordProperty("oracle", "provisional: python3-torch port, scripts/reference/medclip_reference.py");
  std::cout << "[ oracle   ] MedCLIP checked against the PROVISIONAL python3-torch port of MedCLIP + transformers\n";
  EXPECT_NEAR(model->logit_scale(), std::exp(4.6052), 1e-6);  // the fixture's 4.9 is clamped as MedCLIP does
  EXPECT_EQ(model->embed_dim(), 12);
}

TEST(MedClipModel, BertHiddenStatesMatchTransformers) {
  // The shared BERT encoder's hidden_states() (what MedCLIP pools) against the oracle's BERT port.
  const std::string dir = fixture_path(kDir);
  auto model = load_contrastive("MedCLIP", dir);
  ASSERT_TRUE(model);
  TextBatch b = model->tokenize({"a photo of chest xray", "pneumonia"});
  auto ref = run_reference(
      "medclip_reference.py", dir,
      {{"pixel_values", at::zeros({1, 3, 52, 52})}, {"input_ids", b.input_ids}, {"attention_mask", b.attention_mask}});
  ASSERT_FALSE(ref.empty());
  auto* bert = model->root().named_modules().find("text_model.model");
  ASSERT_NE(bert, nullptr);
  auto enc = std::dynamic_pointer_cast<nn::BertEncoderImpl>(*bert);
  ASSERT_TRUE(enc);
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> hs = enc->hidden_states(b.input_ids, b.attention_mask);
  ASSERT_EQ(static_cast<int64_t>(hs.size()), ref["text_hidden_states"].size(0));
  EXPECT_EQ(hs.size(), 4u);  // embeddings + 3 layers
  for (size_t i = 0; i < hs.size(); ++i)
    EXPECT_LT(max_abs_diff(hs[i], ref["text_hidden_states"][static_cast<int64_t>(i)]), 1e-4) << "hidden state " << i;
  EXPECT_LT(max_abs_diff(hs.back(), enc->forward(b.input_ids, b.attention_mask)), 1e-6);
}

TEST(MedClipModel, TokenisesLikeBioClinicalBertAndPadsTheBatch) {
  auto model = load_contrastive("MedCLIP", fixture_path(kDir));
  ASSERT_TRUE(model);
  // No tokenizer_config.json (as Bio_ClinicalBERT): lower-cased like AutoTokenizer's default.
  TextBatch b = model->tokenize({"A Photo", "chest xray with pneumonia"});
  ASSERT_EQ(b.input_ids.size(1), 6);                // [CLS] chest xray with pneumonia [SEP]: the longest row
  EXPECT_EQ(b.input_ids[0][0].item<int64_t>(), 2);  // [CLS]
  EXPECT_EQ(b.input_ids[0][3].item<int64_t>(), 3);  // [SEP]
  EXPECT_EQ(b.input_ids[0][4].item<int64_t>(), 0);  // [PAD]
  EXPECT_NE(b.input_ids[0][1].item<int64_t>(), 1);  // "a" found, not [UNK]: lower-cased
  // The padded length changes MedCLIP's text embedding (the reference pools padding too).
  at::Tensor alone = model->encode_text({"a photo"});
  at::Tensor batched = model->encode_text({"a photo", "chest xray with pneumonia"});
  EXPECT_GT((alone[0] - batched[0]).abs().max().item<double>(), 1e-5);
}

TEST(MedClipModel, PreprocessingIsTheReferenceFeatureExtractor) {
  auto model = load_contrastive("MedCLIP", fixture_path(kDir));
  ASSERT_TRUE(model);
  const ImageTransform& t = model->transform();
  EXPECT_TRUE(t.pad_to_square);
  EXPECT_EQ(t.resize, 52);  // swin_config.json's image_size (224 for the release)
  EXPECT_EQ(t.interpolation, "bilinear");
  EXPECT_FLOAT_EQ(t.mean[0], 0.0f);
  // ToTensor then * 0.5862785803043838, Normalize(mean 0, std 0.26862954 ...): a white pixel becomes
  EXPECT_NEAR(t.rescale_factor * 255.0 / t.std[0], 0.5862785803043838 / 0.26862954, 1e-6);
}

TEST(MedClipModel, PreprocessingMatchesThePilPortOfTheReferenceExtractor) {
  // MedVLMBench model/medclip.py MedCLIPFeatureExtractor with torchvision's PIL paths spelled out:
  // convert('RGB'), pad (ImageOps.expand, fill 0) to a centred square, Resize -> PIL bilinear, CenterCrop,
  // ToTensor (/255), * rescale_factor, Normalize(mean 0, std). Non-square images, up- and down-scaled.
  auto model = load_contrastive("MedCLIP", fixture_path(kDir));
  ASSERT_TRUE(model);
  const int size = transform_output_size(model->transform());
  TempDir tmp;
  const std::string code = R"(
import sys, numpy as np, torch
from PIL import Image, ImageOps
out, size = sys.argv[1], int(sys.argv[2])
rng = np.random.RandomState(3)
res = []
for i, (w, h) in enumerate([(30, 20), (61, 97)]):
    arr = (rng.rand(h, w) * 255).astype(np.uint8)  # grayscale, as most radiographs
    Image.fromarray(arr, 'L').save(f'{out}/img{i}.png')
    img = Image.open(f'{out}/img{i}.png').convert('RGB')
    m = max(img.size)
    pad = [(m - img.size[0]) // 2, (m - img.size[1]) // 2]
    pad += [m - img.size[0] - pad[0], m - img.size[1] - pad[1]]
    img = ImageOps.expand(img, border=tuple(pad), fill=0)
    img = img.resize((size, size), Image.BILINEAR)
    t = torch.from_numpy(np.array(img)).permute(2, 0, 1).float().div(255)
    t = t * 0.5862785803043838
    t = (t - torch.tensor([0., 0., 0.])[:, None, None]) / torch.tensor([0.26862954, 0.26130258, 0.27577711])[:, None, None]
    res.append(t)
np.save(f'{out}/ref.npy', torch.stack(res).numpy())
)";
  CommandResult r = run_python(code, {tmp.path(), std::to_string(size)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string npy = read_text(tmp / "ref.npy");
  // .npy v1: 10-byte preamble + header, then little-endian float32 data.
  const size_t header = 10 + static_cast<uint8_t>(npy[8]) + (static_cast<uint8_t>(npy[9]) << 8);
  at::Tensor ref = at::empty({2, 3, size, size}, at::kFloat);
  ASSERT_EQ(npy.size() - header, static_cast<size_t>(ref.numel()) * 4);
  std::memcpy(ref.data_ptr<float>(), npy.data() + header, npy.size() - header);
  for (int i = 0; i < 2; ++i) {
    at::Tensor ours =
        preprocess(decode_image(ImageRef::file(tmp / ("img" + std::to_string(i) + ".png"))), model->transform());
    EXPECT_LT(max_abs_diff(ours, ref[i]), 1e-5) << "image " << i;
  }
}

TEST(MedClipModel, Bf16TowersStayCloseToFp32) {
  // The reduced-precision path CUDA runs by default (masks, bias tables and LayerNorms in bf16), on CPU.
  ModelSpec spec;
  spec.model_path = fixture_path(kDir);
  spec.dtype = "bf16";
  auto half = model_registry().get("MedCLIP").factory(spec);
  auto* h = dynamic_cast<ContrastiveModel*>(half.get());
  ASSERT_NE(h, nullptr);
  auto full = load_contrastive("MedCLIP", fixture_path(kDir));
  at::manual_seed(2);
  at::Tensor px = at::randn({2, 3, 52, 52});
  EXPECT_LT(max_abs_diff(h->encode_image(px), full->encode_image(px)), 0.05);
  EXPECT_LT(max_abs_diff(h->encode_text({"a photo of chest xray"}), full->encode_text({"a photo of chest xray"})),
            0.05);
}

TEST(MedClipModel, MissingFilesNameTheFileAndTheFix) {
  const std::string src = fixture_path(kDir);
  for (const char* missing : {"swin_config.json", "config.json", "vocab.txt", "pytorch_model.bin"}) {
    TempDir tmp;
    for (const auto& e : std::filesystem::directory_iterator(src))
      if (e.path().filename() != missing) std::filesystem::copy(e.path(), tmp / e.path().filename().string());
    try {
      load_contrastive("MedCLIP", tmp.path());
      ADD_FAILURE() << "loaded without " << missing;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(missing), std::string::npos) << msg;
      EXPECT_NE(msg.find("models/README.md"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace mvb::test
