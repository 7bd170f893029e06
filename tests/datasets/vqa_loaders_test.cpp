// VQA loaders on their fixtures: counts, open/closed rule, the reference's prompts, choices and
// letter matching.
#include <gtest/gtest.h>

#include "dataset_test_support.h"
#include "medvlmbench/vision/image.h"

namespace mvb::test {
namespace {

const std::string kYesNo = "Answer the following question about the image with yes or no. ";
const std::string kLetter = "\nAnswer with the single letter corresponding to the best choice.";

TEST(SlakeLoader, EnglishRowsOpenFromAnswerTypeAndYesNoTemplateFromAnswer) {
  const auto test = load_split("SLAKE", "vqa", "test", dataset_fixture("SLAKE"));
  ASSERT_EQ(test.size(), 4u);  // the zh row is filtered out
  EXPECT_TRUE(errors_of(test).empty());
  EXPECT_EQ(test[0].id, "test/8");
  EXPECT_EQ(test[0].question_type, "open");
  EXPECT_EQ(test[0].prompt, "What organ is shown?");
  EXPECT_EQ(test[0].answer, "Lung");
  // OPEN question with a yes answer: open, but the yes/no template (the reference's rule).
  EXPECT_EQ(test[1].question_type, "open");
  EXPECT_EQ(test[1].prompt, kYesNo + "Is this normal or abnormal?");
  EXPECT_EQ(test[2].question_type, "closed");
  EXPECT_EQ(test[2].prompt, kYesNo + "Is this image normal?");
  // CLOSED but not yes/no: closed, plain template.
  EXPECT_EQ(test[3].question_type, "closed");
  EXPECT_EQ(test[3].prompt, "Which side is affected?");
  EXPECT_EQ(test[3].metadata["location"], "Lung");
  ASSERT_EQ(test[0].images.size(), 1u);
  EXPECT_NE(test[0].images[0].path.find("imgs/xmlab8/source.jpg"), std::string::npos);
  EXPECT_EQ(decode_image(test[0].images[0]).width, 32);

  EXPECT_EQ(load_split("SLAKE", "vqa", "train", dataset_fixture("SLAKE")).size(), 4u);
  EXPECT_EQ(load_split("SLAKE", "vqa", "validation", dataset_fixture("SLAKE")).size(), 2u);
  EXPECT_EQ(load_split("SLAKE", "vqa", "all", dataset_fixture("SLAKE")).size(), 10u);
}

TEST(SlakeLoader, ImagePathCanBeTheImgsFolderWithJsonInItsParent) {
  // The reference's usage: --image_path .../SLAKE/imgs, annotations from the dataset folder.
  const auto test = load_split("SLAKE", "vqa", "test", dataset_fixture("SLAKE/imgs"));
  ASSERT_EQ(test.size(), 4u);
  EXPECT_TRUE(errors_of(test).empty()) << errors_of(test)[0].error;
}

TEST(SlakeLoader, OriginalReleaseValidateJson) {
  TempDir tmp;
  const std::string root = copy_fixture("SLAKE", tmp);
  std::filesystem::rename(root + "/validation.json", root + "/validate.json");
  EXPECT_EQ(load_split("SLAKE", "vqa", "validation", root).size(), 2u);
}

TEST(HubVqaLoaders, PathVqaParquetShardsWithEmbeddedImages) {
  const auto train = load_split("PathVQA", "vqa", "train", dataset_fixture("PathVQA"));
  ASSERT_EQ(train.size(), 5u);
  EXPECT_TRUE(errors_of(train).empty());
  for (const auto& s : train) {
    EXPECT_EQ(s.question_type, s.answer == "yes" || s.answer == "no" ? "closed" : "open") << s.id;
    EXPECT_EQ(s.prompt, s.question_type == "closed" ? kYesNo + s.question : s.question);
    ASSERT_EQ(s.images.size(), 1u);
    ASSERT_TRUE(s.images[0].encoded) << "image bytes must come from the parquet file";
    const RgbImage img = decode_image(s.images[0]);
    EXPECT_EQ(img.width, 32);
    // Class-dependent content: "yes" pictures are bright.
    int sum = 0;
    for (int i = 0; i < 3 * 32; ++i) sum += img.pixels[i];
    EXPECT_EQ(sum / (3 * 32) > 60, s.answer == "yes") << s.id;
  }
  EXPECT_EQ(train[0].id, "train/0");
  EXPECT_EQ(train[0].metadata["reference_image_path"], "NA");
  EXPECT_NE(train[0].images[0].path.find("train-00000-of-00001-fixture.parquet#row=0"), std::string::npos);
  EXPECT_EQ(load_split("PathVQA", "vqa", "validation", dataset_fixture("PathVQA")).size(), 2u);
  EXPECT_EQ(load_split("PathVQA", "vqa", "all", dataset_fixture("PathVQA")).size(), 11u);
}

TEST(HubVqaLoaders, PathVqaOriginalPickleRelease) {
  const auto val = load_split("PathVQA", "vqa", "validation", dataset_fixture("PathVQA-original"));
  ASSERT_EQ(val.size(), 2u);
  EXPECT_TRUE(errors_of(val).empty()) << errors_of(val)[0].error;
  EXPECT_NE(val[0].image_path().find("pvqa/images/val/val_0000.jpg"), std::string::npos);
  EXPECT_EQ(val[0].metadata["image"], "val_0000");
  for (const auto& s : val) EXPECT_EQ(s.prompt, s.question_type == "closed" ? kYesNo + s.question : s.question);
  EXPECT_EQ(load_split("PathVQA", "vqa", "all", dataset_fixture("PathVQA-original")).size(), 8u);
  // Answers and questions equal what Python's pickle reads.
  const auto r = loader_oracle("pathvqa-pickle", dataset_fixture("PathVQA-original/pvqa/qas/test/test_qa.pkl"));
  std::string mine;
  for (const auto& s : load_split("PathVQA", "vqa", "test", dataset_fixture("PathVQA-original")))
    mine += s.question + "|" + s.answer + "\n";
  EXPECT_EQ(mine, r.out);
}

TEST(HubVqaLoaders, VqaRadParquetAndHubCacheLayout) {
  EXPECT_EQ(load_split("VQA-RAD", "vqa", "test", dataset_fixture("VQA-RAD")).size(), 4u);
  // A Hugging Face hub cache folder: datasets--owner--name/snapshots/<rev>/data/*.parquet.
  TempDir tmp;
  const std::string snap = tmp / "datasets--flaviagiammarino--vqa-rad/snapshots/abc123";
  std::filesystem::create_directories(snap);
  std::filesystem::copy(dataset_fixture("VQA-RAD/data"), snap + "/data");
  const auto train = load_split("VQA-RAD", "vqa", "train", tmp.path());
  EXPECT_EQ(train.size(), 5u);
  EXPECT_TRUE(errors_of(train).empty());
}

TEST(HubVqaLoaders, VqaRadOriginalJsonRelease) {
  const auto train = load_split("VQA-RAD", "vqa", "train", dataset_fixture("VQA-RAD-original"));
  const auto test = load_split("VQA-RAD", "vqa", "test", dataset_fixture("VQA-RAD-original"));
  // 6 train records, less a repeated triplet and one also in test (dropped as in the hub copy).
  ASSERT_EQ(train.size(), 4u);
  ASSERT_EQ(test.size(), 2u);  // phrase_type test_freeform
  EXPECT_EQ(test[0].id, "test/1004");
  EXPECT_EQ(test[0].question_type, "open");
  EXPECT_EQ(train[0].question_type, "closed");
  EXPECT_EQ(train[0].prompt, kYesNo + train[0].question);
  EXPECT_EQ(train[0].metadata["image_organ"], "CHEST");
  EXPECT_EQ(decode_image(test[1].images[0]).height, 32);
}

TEST(FairVlmedLoader, VqaCsvDropsRowsWithEmptyFieldsLikeDropna) {
  const auto train = load_split("Harvard-FairVLMed10k", "vqa", "train", dataset_fixture("FairVLMed10k"));
  ASSERT_EQ(train.size(), 6u);  // 7 rows, one with an empty answer
  EXPECT_TRUE(errors_of(train).empty());
  EXPECT_EQ(train[0].question_type, "open");
  EXPECT_EQ(train[1].question_type, "closed");
  EXPECT_EQ(train[1].prompt, kYesNo + "Is there glaucoma?");
  EXPECT_EQ(train[0].prompt, "What does the optic disc show?");
  EXPECT_EQ(train[0].metadata["filename"], "data_00000.npz");
  ASSERT_TRUE(train[0].images[0].pixels) << "slo_fundus must be read from the npz";
  const PixelBuffer& p = *train[0].images[0].pixels;
  EXPECT_EQ(p.channels, 1);
  EXPECT_EQ(p.width, 32);
  EXPECT_EQ(decode_image(train[0].images[0]).pixels.size(), 32u * 32u * 3u);
}

TEST(FairVlmedLoader, CompareSloFundusPixelsWithNumpy) {
  const auto test = load_split("HarvardFairVLMed10k", "vqa", "test", dataset_fixture("FairVLMed10k"));
  ASSERT_FALSE(test.empty());
  const std::string path = test[0].images[0].path;
  const auto r = loader_oracle("fairvlmed-npz", path);
  const PixelBuffer& p = *test[0].images[0].pixels;
  long long sum = 0;
  for (uint8_t v : p.data) sum += v;
  EXPECT_EQ(r.out, std::to_string(p.height) + " " + std::to_string(p.width) + " " + std::to_string(sum) + " " +
                       std::to_string(p.data[3 * p.width + 7]) + "\n");
}

TEST(MedXpertQaLoader, FoldsMultiImageChoicesAndPrompt) {
  const auto test = load_split("MedXpertQA", "vqa", "test", dataset_fixture("MedXpertQA"));
  ASSERT_EQ(test.size(), 3u);
  const Sample& s = test[0];
  EXPECT_EQ(s.id, "MM-3");
  EXPECT_EQ(s.question_type, "multi-choice");
  EXPECT_EQ(s.answer, "B");
  EXPECT_EQ(s.question.substr(0, 9), "What is t");  // stripped
  EXPECT_EQ(s.prompt, s.question + kLetter);
  ASSERT_EQ(s.choices.size(), 5u);
  EXPECT_EQ(s.choices[0].letter, "A");
  EXPECT_EQ(s.choices[1].text, "Glaucoma");
  EXPECT_EQ(s.choices[4].letter, "E");
  ASSERT_EQ(s.images.size(), 2u);  // multi-image question
  EXPECT_NE(s.images[1].path.find("images/MM-3-b.jpeg"), std::string::npos);
  EXPECT_EQ(s.metadata["subset"], "cus_test_fold0");
  EXPECT_EQ(s.metadata["reference_image_path"], s.images[0].path + ";" + s.images[1].path);
  EXPECT_EQ(load_split("MedXpertQA", "vqa", "train", dataset_fixture("MedXpertQA")).size(), 3u);
  EXPECT_EQ(load_split("MedXpertQA", "vqa", "all", dataset_fixture("MedXpertQA")).size(), 6u);
  EXPECT_THROW(load_split("MedXpertQA", "vqa", "validation", dataset_fixture("MedXpertQA")), UsageError);
}

TEST(OmniMedVqaLoader, SplitIndexLetterMatchingAndOptionsBlock) {
  // The fixture is nested one folder deep; the loader finds QA_information there, like the reference.
  const auto test = load_split("OmniMedVQA", "vqa", "test", dataset_fixture("OmniMedVQA"));
  ASSERT_EQ(test.size(), 4u);
  EXPECT_TRUE(errors_of(test).empty());
  const Sample& s = test[0];
  EXPECT_EQ(s.id, "SetA_0003");
  EXPECT_EQ(s.answer, "B");  // gt_answer Pneumonia is option B
  EXPECT_EQ(s.question, "What abnormality is seen in image 3?");
  EXPECT_EQ(s.prompt,
            "What abnormality is seen in image 3?\nOptions:\n(A) Normal\n(B) Pneumonia\n(C) Fracture\n(D) Effusion" +
                kLetter);
  ASSERT_EQ(s.choices.size(), 4u);
  EXPECT_EQ(s.metadata["gt_answer"], "Pneumonia");
  // Case and surrounding spaces are ignored when matching gt_answer to an option.
  EXPECT_EQ(find_id(test, "SetA_0005")->answer, "B");
  // No matching option: the raw answer text stays the label.
  EXPECT_EQ(find_id(test, "SetA_0099")->answer, "Three");
  EXPECT_EQ(find_id(test, "SetA_0099")->choices.size(), 2u);
  const auto train = load_split("OmniMedVQA", "vqa", "train", dataset_fixture("OmniMedVQA"));
  ASSERT_EQ(train.size(), 3u);
  EXPECT_EQ(train[0].prompt, "What abnormality is seen in image 0?\nOptions:\n(A) Normal\n(B) Pneumonia" + kLetter);
  EXPECT_EQ(train[0].answer, "A");
  EXPECT_EQ(load_split("OmniMedVQA", "vqa", "validation", dataset_fixture("OmniMedVQA")).size(), 3u);
  // all: every record with an image (the restricted-access record without its image is dropped).
  EXPECT_EQ(load_split("OmniMedVQA", "vqa", "all", dataset_fixture("OmniMedVQA")).size(), 7u);
}

}  // namespace
}  // namespace mvb::test
