// Diagnosis and captioning loaders on their fixtures: counts, label vectors, the reference's class
// texts, image content (numpy as the oracle for arrays).
#include <gtest/gtest.h>

#include "dataset_test_support.h"
#include "medvlmbench/vision/image.h"

namespace mvb::test {
namespace {

using V = std::vector<int>;

TEST(ClassTexts, ExactlyAsTheReference) {
  auto texts = [](const std::string& name) { return dataset_registry().get(name).factory()->info().class_texts; };
  using S = std::vector<std::string>;
  EXPECT_EQ(texts("PneumoniaMNIST"), (S{"normal", "pneumonia"}));
  EXPECT_EQ(texts("BreastMNIST"), (S{"malignant", "normal, benign"}));
  EXPECT_EQ(texts("DermaMNIST"),
            (S{"actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
               "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi", "vascular lesions"}));
  EXPECT_EQ(texts("Camelyon17"), (S{"negative tumor", "positive tumor"}));
  EXPECT_EQ(texts("HAM10000"), (S{"benign keratosis-like lesions", "actinic keratoses or melanoma"}));
  EXPECT_EQ(texts("CheXpert"), (S{"diseased xray", "normal xray"}));
  EXPECT_EQ(texts("ChestXray"), (S{"chest xray with no finding", " chest xray with pneumonia"}));
  EXPECT_EQ(texts("GF3300"), (S{"benign retina", "glaucomatous retina"}));
  EXPECT_EQ(texts("PAPILA"), (S{"benign fundus", "glaucoma fundus"}));
  EXPECT_EQ(texts("HarvardFairVLMed10k"), (S{"a benign scanning laser ophthalmoscope fundus image",
                                             " a glaucoma scanning laser ophthalmoscope fundus image"}));
  EXPECT_EQ(texts("Drishti"), (S{"normal retina ", "glaucomatous retina"}));
}

TEST(MedMnistLoader, ReadsNpzSplitsLabelsAndPixels) {
  const auto train = load_split("PneumoniaMNIST", "diagnosis", "train", dataset_fixture("PneumoniaMNIST"));
  EXPECT_EQ(labels_of(train), (V{0, 0, 1, 1}));
  ASSERT_TRUE(train[0].images[0].pixels);
  EXPECT_EQ(train[0].images[0].pixels->width, 224);
  EXPECT_EQ(train[0].images[0].pixels->channels, 1);
  EXPECT_EQ(labels_of(load_split("PneumoniaMNIST", "diagnosis", "validation", dataset_fixture("PneumoniaMNIST"))),
            (V{0, 1}));
  EXPECT_EQ(load_split("PneumoniaMNIST", "diagnosis", "all", dataset_fixture("PneumoniaMNIST")).size(), 8u);
  // Other MedMNIST sizes: breastmnist_64.npz, dermamnist.npz (28 px, RGB).
  EXPECT_EQ(labels_of(load_split("BreastMNIST", "diagnosis", "test", dataset_fixture("BreastMNIST"))), (V{0, 1}));
  const auto derma = load_split("DermaMNIST", "diagnosis", "test", dataset_fixture("DermaMNIST"));
  EXPECT_EQ(labels_of(derma), (V{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(derma[3].images[0].pixels->channels, 3);
  // Pixels equal numpy's.
  const auto r = loader_oracle("medmnist-npz", dataset_fixture("DermaMNIST/dermamnist.npz"));
  const PixelBuffer& p = *derma[3].images[0].pixels;
  long long sum = 0;
  for (uint8_t v : p.data) sum += v;
  EXPECT_EQ(r.out, "(28, 28, 3) " + std::to_string(sum) + " " + std::to_string(p.data[(10 * 28 + 12) * 3 + 1]) + "\n");
}

TEST(Camelyon17Loader, MetadataCsvToPatchPaths) {
  const auto train = load_split("Camelyon17", "diagnosis", "train", dataset_fixture("Camelyon17"));
  EXPECT_EQ(labels_of(train), (V{0, 1, 0, 1}));
  EXPECT_NE(train[1].image_path().find("patches/patient_010_node_1/patch_patient_010_node_1_x_3360_y_21824.png"),
            std::string::npos);
  // Every split other than train reads the test subset, as the reference.
  EXPECT_EQ(load_split("Camelyon17", "diagnosis", "validation", dataset_fixture("Camelyon17")).size(), 4u);
  // "all" too (defect 12 of issue 18: it used to be train + test).
  EXPECT_EQ(ids_of(load_split("Camelyon17", "diagnosis", "all", dataset_fixture("Camelyon17"))),
            ids_of(load_split("Camelyon17", "diagnosis", "test", dataset_fixture("Camelyon17"))));
}

TEST(Ham10000Loader, AkiecAndMelArePositive) {
  const auto train = load_split("HAM10000", "diagnosis", "train", dataset_fixture("HAM10000"));
  EXPECT_EQ(labels_of(train), (V{0, 1, 0, 1, 0, 0}));  // nv mel bkl akiec bcc df
  EXPECT_NE(train[0].image_path().find("HAM10000/HAM10000_images/ISIC_0024306.jpg"), std::string::npos);
  EXPECT_EQ(load_split("HAM10000", "diagnosis", "validation", dataset_fixture("HAM10000")).size(), 2u);  // val.csv
}

TEST(CheXpertLoader, NoFindingOneIsNormalUncertainAndEmptyAreZero) {
  EXPECT_EQ(labels_of(load_split("CheXpert", "diagnosis", "train", dataset_fixture("CheXpert"))), (V{1, 0, 0, 0, 1}));
  EXPECT_EQ(labels_of(load_split("CheXpert", "diagnosis", "test", dataset_fixture("CheXpert"))), (V{1, 0, 0, 1}));
  // The reference maps every split but test to train.csv.
  EXPECT_EQ(load_split("CheXpert", "diagnosis", "validation", dataset_fixture("CheXpert")).size(), 5u);
}

TEST(ChestXrayLoader, KermanyFolders) {
  const auto test = load_split("ChestXray", "diagnosis", "test", dataset_fixture("ChestXray"));
  EXPECT_EQ(labels_of(test), (V{0, 0, 1, 1}));
  EXPECT_EQ(test[0].id, "test/NORMAL/normal_test_0.jpeg");
  EXPECT_EQ(load_split("ChestXray", "diagnosis", "validation", dataset_fixture("ChestXray")).size(), 2u);
}

TEST(Gf3300Loader, RnfltScaledLikeTheReference) {
  const auto train = load_split("GF3300", "diagnosis", "train", dataset_fixture("GF3300"));
  EXPECT_EQ(labels_of(train), (V{0, 1, 0, 1}));
  ASSERT_TRUE(train[1].images[0].pixels);
  const PixelBuffer& p = *train[1].images[0].pixels;
  const auto r = loader_oracle("gf3300-rnflt", train[1].image_path());
  long long sum = 0;
  for (uint8_t v : p.data) sum += v;
  EXPECT_EQ(r.out, std::to_string(p.height) + " " + std::to_string(p.width) + " " + std::to_string(sum) + " " +
                       std::to_string(p.data[16 * p.width + 16]) + "\n");
}

TEST(PapilaLoader, NewSplitCsvs) {
  const auto train = load_split("PAPILA", "diagnosis", "train", dataset_fixture("PAPILA"));
  EXPECT_EQ(labels_of(train), (V{0, 1, 0, 1}));
  EXPECT_NE(train[0].image_path().find("PAPILA/data/FundusImages/RET002OS.jpg"), std::string::npos);
  EXPECT_EQ(load_split("PAPILA", "diagnosis", "validation", dataset_fixture("PAPILA")).size(), 2u);
}

TEST(DrishtiLoader, LabelsFromDiagnosisSheet) {
  const auto train = load_split("Drishti", "diagnosis", "train", dataset_fixture("Drishti"));
  EXPECT_EQ(labels_of(train), (V{0, 1, 0, 1}));
  EXPECT_EQ(labels_of(load_split("Drishti", "diagnosis", "test", dataset_fixture("Drishti"))), (V{0, 1, 0}));
  EXPECT_THROW(load_split("Drishti", "diagnosis", "validation", dataset_fixture("Drishti")), UsageError);
}

TEST(FairVlmedLoader, DiagnosisSplitCsv) {
  const auto test = load_split("HarvardFairVLMed10k", "diagnosis", "test", dataset_fixture("FairVLMed10k"));
  EXPECT_EQ(labels_of(test), (V{0, 1, 0}));
  EXPECT_NE(test[0].image_path().find("FairVLMed10k/FairVLMed10k/images/"), std::string::npos);
  EXPECT_EQ(decode_image(test[0].images[0]).width, 32);
}

TEST(CaptionLoaders, FairVlmedCaptionCsv) {
  const auto train = load_split("HarvardFairVLMed10k", "caption", "train", dataset_fixture("FairVLMed10k"));
  ASSERT_EQ(train.size(), 3u);
  EXPECT_EQ(train[0].question_type, "caption");
  EXPECT_EQ(train[0].prompt, "Can you provide a medical report for this image?");
  EXPECT_EQ(train[0].answer, "The fundus shows glaucomatous cupping.");
  EXPECT_TRUE(train[0].images[0].pixels);
}

TEST(CaptionLoaders, MimicCxrR2GenAnnotation) {
  const auto test = load_split("MIMIC_CXR", "caption", "test", dataset_fixture("MIMIC_CXR"));
  ASSERT_EQ(test.size(), 3u);
  EXPECT_EQ(test[0].id, "test/study5");
  EXPECT_EQ(test[0].prompt, "Can you provide a medical report for this image?");
  EXPECT_EQ(test[0].images.size(), 1u);  // the first image of the study
  EXPECT_NE(test[0].image_path().find("images/p10/p10005/s55/0.jpg"), std::string::npos);
  EXPECT_NE(test[0].answer.find("pneumonia"), std::string::npos);
  EXPECT_EQ(load_split("MIMIC_CXR", "caption", "validation", dataset_fixture("MIMIC_CXR")).size(), 2u);
}

}  // namespace
}  // namespace mvb::test
