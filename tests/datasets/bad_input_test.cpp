// Broken copies of the fixtures, one family of loaders at a time: a bad sample becomes an error row
// naming the problem; an unusable annotation file stops the loader with one message naming the file
// and the expected layout; `check` reports the first problems precisely.
#include <gtest/gtest.h>

#include <fstream>

#include "dataset_test_support.h"
#include "medvlmbench/core/error.h"

namespace mvb::test {
namespace {

namespace fs = std::filesystem;

void truncate_file(const std::string& path, double keep) {
  const auto size = fs::file_size(path);
  fs::resize_file(path, static_cast<uintmax_t>(size * keep));
}

std::string error_of(const std::string& dataset, const std::string& task, const std::string& split,
                     const std::string& root) {
  try {
    load_split(dataset, task, split, root);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

CheckReport check(const std::string& dataset, const std::string& root, const std::string& task = "") {
  auto ds = dataset_registry().get(dataset).factory();
  return ds->check(root, task.empty() ? ds->info().tasks.front() : task);
}

std::string all_problems(const CheckReport& r) {
  std::string out;
  for (const auto& p : r.problems) out += p + "\n";
  return out;
}

// --- image folders (ChestXray, Drishti) ---
TEST(BadInputImageFolders, CorruptJpegIsReportedByCheckWithItsPath) {
  TempDir tmp;
  const std::string root = copy_fixture("ChestXray", tmp);
  write_text(root + "/test/PNEUMONIA/pneumonia_test_1.jpeg", "not a jpeg at all");
  const CheckReport r = check("ChestXray", root);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 1u) << all_problems(r);
  EXPECT_NE(r.problems[0].find("test sample test/PNEUMONIA/pneumonia_test_1.jpeg"), std::string::npos) << r.problems[0];
  EXPECT_NE(r.problems[0].find("cannot decode image"), std::string::npos) << r.problems[0];
  EXPECT_EQ(r.counts.at("test/errors"), 1);
  EXPECT_EQ(r.counts.at("test/class 1"), 1);  // only samples that decode are counted per class
  EXPECT_EQ(r.counts.at("train"), 4);         // the healthy splits are still counted
  EXPECT_TRUE(check("ChestXray", dataset_fixture("ChestXray")).ok);
}

TEST(BadInputImageFolders, MissingClassFolderNamesItAndTheLayout) {
  TempDir tmp;
  const std::string root = copy_fixture("ChestXray", tmp);
  fs::remove_all(root + "/train/NORMAL");
  const std::string e = error_of("ChestXray", "diagnosis", "train", root);
  EXPECT_NE(e.find("missing folder " + root + "/train/NORMAL"), std::string::npos) << e;
  EXPECT_NE(e.find("expected layout"), std::string::npos) << e;
}

TEST(BadInputImageFolders, DrishtiImageWithoutSheetRowIsAnErrorRow) {
  TempDir tmp;
  const std::string root = copy_fixture("Drishti", tmp);
  const std::string images = root + "/Drishti-GS1_files/Drishti-GS1_files/Test/Images/";
  fs::copy_file(images + "drishtiGS_005.png", images + "drishtiGS_099.png");
  const auto test = load_split("Drishti", "diagnosis", "test", root);
  const auto errors = errors_of(test);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].id, "test/drishtiGS_099.png");
  EXPECT_NE(errors[0].error.find("no row for 'drishtiGS_099'"), std::string::npos) << errors[0].error;
}

// --- split CSVs (HAM10000, PAPILA, GF3300, CheXpert, Camelyon17, FairVLMed10k diagnosis) ---
TEST(BadInputSplitCsv, UnknownLabelMissingImageAndEscapingPathBecomeErrorRows) {
  TempDir tmp;
  const std::string root = copy_fixture("PAPILA", tmp);
  write_text(root + "/PAPILA/split/new_test.csv",
             ",Path,Diagnosis,Age\n0,RET008OS.jpg,7,60\n1,RET404OD.jpg,1,61\n2,../../../../etc/passwd,0,62\n"
             "3,RET009OD.jpg,1,63\n");
  const auto test = load_split("PAPILA", "diagnosis", "test", root);
  ASSERT_EQ(test.size(), 4u);
  EXPECT_NE(test[0].error.find("unknown Diagnosis '7'"), std::string::npos) << test[0].error;
  EXPECT_NE(test[0].error.find("new_test.csv row 2"), std::string::npos) << test[0].error;
  EXPECT_NE(test[1].error.find("missing image"), std::string::npos) << test[1].error;
  EXPECT_NE(test[1].error.find("RET404OD.jpg"), std::string::npos);
  EXPECT_NE(test[2].error.find("escapes the data root"), std::string::npos) << test[2].error;
  EXPECT_TRUE(test[3].error.empty()) << test[3].error;
  const CheckReport r = check("PAPILA", root);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.counts.at("test/errors"), 3);
  EXPECT_EQ(r.counts.at("test"), 4);
}

TEST(BadInputSplitCsv, MissingColumnStopsWithFileAndColumns) {
  TempDir tmp;
  const std::string root = copy_fixture("HAM10000", tmp);
  write_text(root + "/HAM10000/split/test.csv", "lesion_id,image\nHAM_1,ISIC_1\n");
  const std::string e = error_of("HAM10000", "diagnosis", "test", root);
  EXPECT_NE(e.find("HAM10000/split/test.csv: no column 'dx' (columns present: lesion_id, image)"), std::string::npos)
      << e;
}

TEST(BadInputSplitCsv, MissingCsvNamesTheExpectedLayout) {
  TempDir tmp;
  const std::string root = copy_fixture("GF3300", tmp);
  fs::remove(root + "/GF3300/split/test.csv");
  const std::string e = error_of("GF3300", "diagnosis", "test", root);
  EXPECT_NE(e.find("GF3300: missing " + root + "/GF3300/split/test.csv"), std::string::npos) << e;
  EXPECT_NE(e.find("expected layout: {image_path}/GF3300/split/"), std::string::npos) << e;
  fs::remove(root + "/GF3300/split/val.csv");
  const std::string v = error_of("GF3300", "diagnosis", "validation", root);
  EXPECT_NE(v.find("missing " + root + "/GF3300/split/validation.csv (or val.csv)"), std::string::npos) << v;
  const CheckReport r = check("GF3300", root);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(all_problems(r).find("split test: GF3300: missing"), std::string::npos) << all_problems(r);
}

TEST(BadInputSplitCsv, TruncatedNpzBecomesAnErrorRowWhenRead) {
  TempDir tmp;
  const std::string root = copy_fixture("GF3300", tmp);
  truncate_file(root + "/GF3300/data/data_0001.npz", 0.5);
  const auto train = load_split("GF3300", "diagnosis", "train", root);
  ASSERT_EQ(train.size(), 4u);
  EXPECT_TRUE(train[0].error.empty());
  EXPECT_NE(train[1].error.find("data_0001.npz"), std::string::npos) << train[1].error;
  EXPECT_NE(train[1].error.find("truncated"), std::string::npos) << train[1].error;
  EXPECT_TRUE(train[1].images.empty());
}

TEST(BadInputSplitCsv, CheXpertAndCamelyonBadValues) {
  TempDir tmp;
  const std::string cx = copy_fixture("CheXpert", tmp);
  write_text(cx + "/CheXpert-v1.0-small/valid.csv",
             "Path,No Finding\nCheXpert-v1.0-small/valid/patient00001/study1/view1_frontal.jpg,maybe\n");
  EXPECT_NE(load_split("CheXpert", "diagnosis", "test", cx)[0].error.find("unknown No Finding value 'maybe'"),
            std::string::npos);
  const std::string cam = copy_fixture("Camelyon17", tmp);
  write_text(cam + "/sample920_test_metadata.csv", "patient,node,x_coord,y_coord,tumor\n4,0,1,2,3\nx,0,1,2,0\n");
  const auto t = load_split("Camelyon17", "diagnosis", "test", cam);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_NE(t[0].error.find("unknown tumor label '3'"), std::string::npos) << t[0].error;
  EXPECT_NE(t[1].error.find("must be integers"), std::string::npos) << t[1].error;
}

// --- npz archives (MedMNIST) ---
TEST(BadInputNpz, TruncatedMedMnistArchiveStopsWithTheFile) {
  TempDir tmp;
  const std::string root = copy_fixture("BreastMNIST", tmp);
  truncate_file(root + "/breastmnist_64.npz", 0.6);
  const std::string e = error_of("BreastMNIST", "diagnosis", "train", root);
  EXPECT_NE(e.find("breastmnist_64.npz"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST(BadInputNpz, OutOfRangeLabelAndMissingArray) {
  TempDir tmp;
  // breastmnist_64.npz with train arrays only, the second label (5) out of range.
  ASSERT_EQ(run_oracle_script(OracleInterpreter::kDebianPython, "datasets/make_bad_medmnist_fixture.py", {tmp.path()})
                .exit_code,
            0);
  const auto train = load_split("BreastMNIST", "diagnosis", "train", tmp.path());
  ASSERT_EQ(train.size(), 2u);
  EXPECT_TRUE(train[0].error.empty());
  EXPECT_NE(train[1].error.find("train_labels[1] = 5 is not a class of BreastMNIST"), std::string::npos)
      << train[1].error;
  const std::string e = error_of("BreastMNIST", "diagnosis", "test", tmp.path());
  EXPECT_NE(e.find("no array 'test_images' (arrays present: train_images, train_labels)"), std::string::npos) << e;
}

// --- JSON / JSONL annotations (SLAKE, MedXpertQA, OmniMedVQA, MIMIC-CXR) ---
TEST(BadInputJson, MissingFieldAndMissingImageAreErrorRows) {
  TempDir tmp;
  const std::string root = copy_fixture("SLAKE", tmp);
  write_text(root + "/test.json",
             R"([{"qid": 1, "img_name": "xmlab8/source.jpg", "question": "Q?", "q_lang": "en", "answer_type": "OPEN"},
                 {"qid": 2, "img_name": "xmlab999/source.jpg", "question": "Q?", "answer": "a", "q_lang": "en",
                  "answer_type": "OPEN"},
                 {"qid": 3, "img_name": "../../outside.jpg", "question": "Q?", "answer": "a", "q_lang": "en",
                  "answer_type": "OPEN"}])");
  const auto test = load_split("SLAKE", "vqa", "test", root);
  ASSERT_EQ(test.size(), 3u);
  EXPECT_NE(test[0].error.find("lacks field(s) answer"), std::string::npos) << test[0].error;
  EXPECT_NE(test[1].error.find("missing image " + root + "/imgs/xmlab999/source.jpg"), std::string::npos)
      << test[1].error;
  EXPECT_NE(test[2].error.find("escapes the data root"), std::string::npos) << test[2].error;
}

// An img_name without its file name ("xmlab8" for "xmlab8/source.jpg") exists, as a folder: loading
// keeps the row, and opening it (check here, a run's data loader alike) names the folder and the fix.
TEST(BadInputJson, ImageNameOfAFolderIsNamedAsOne) {
  TempDir tmp;
  const std::string root = copy_fixture("SLAKE", tmp);
  write_text(root + "/test.json",
             R"([{"qid": 1, "img_name": "xmlab8", "question": "Q?", "answer": "a", "q_lang": "en",
                  "answer_type": "OPEN"}])");
  const auto test = load_split("SLAKE", "vqa", "test", root);
  ASSERT_EQ(test.size(), 1u);
  EXPECT_TRUE(test[0].error.empty()) << test[0].error;
  const CheckReport r = check("SLAKE", root, "vqa");
  EXPECT_FALSE(r.ok);
  const std::string problems = all_problems(r);
  EXPECT_NE(problems.find("image " + root +
                          "/imgs/xmlab8 is a directory, not an image file; check --image_path "
                          "and the dataset's image names"),
            std::string::npos)
      << problems;
}

TEST(BadInputJson, UnparsableJsonStopsWithTheFileAndLine) {
  TempDir tmp;
  const std::string root = copy_fixture("MIMIC_CXR", tmp);
  write_text(root + "/annotation.json", "{\"train\": [ {\"id\": 1, ");
  const std::string e = error_of("MIMIC_CXR", "caption", "train", root);
  EXPECT_NE(e.find("annotation.json"), std::string::npos) << e;
  EXPECT_NE(e.find("expected layout: {image_path}/annotation.json"), std::string::npos) << e;
}

TEST(BadInputJson, MedXpertQaBadLineAndLabelOutsideOptions) {
  TempDir tmp;
  const std::string root = copy_fixture("MedXpertQA", tmp);
  write_text(root + "/MM/cus_test_fold0.jsonl",
             "{\"id\": \"MM-9\", \"question\": \"Q\", \"options\": {\"A\": \"x\", \"B\": \"y\"}, \"label\": \"E\", "
             "\"images\": [\"MM-3-a.jpeg\"]}\n{not json\n{\"id\": \"MM-8\", \"question\": \"Q\", \"options\": {\"A\": "
             "\"x\"}, \"label\": \"A\", \"images\": [\"MM-404.jpeg\"]}\n");
  const auto test = load_split("MedXpertQA", "vqa", "test", root);
  ASSERT_EQ(test.size(), 3u);
  EXPECT_NE(test[0].error.find("label 'E' is not one of the option letters"), std::string::npos) << test[0].error;
  EXPECT_NE(test[1].error.find("cus_test_fold0.jsonl line 2: invalid JSON"), std::string::npos) << test[1].error;
  EXPECT_NE(test[2].error.find("missing image"), std::string::npos) << test[2].error;
}

TEST(BadInputJson, OmniMedVqaIndexedRecordWithoutImageIsAnErrorRow) {
  TempDir tmp;
  const std::string root = copy_fixture("OmniMedVQA", tmp);
  fs::remove(root + "/OmniMedVQA/Images/SetA/img_4.png");
  const auto test = load_split("OmniMedVQA", "vqa", "test", root);
  const auto errors = errors_of(test);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].id, "SetA_0004");
  EXPECT_NE(errors[0].error.find("missing image"), std::string::npos);
  fs::remove(root + "/OmniMedVQA/omnimedvqa_test_index.jsonl");
  const std::string e = error_of("OmniMedVQA", "vqa", "test", root);
  EXPECT_NE(e.find("missing split index"), std::string::npos) << e;
}

// --- parquet (PathVQA, VQA-RAD) ---
TEST(BadInputParquet, TruncatedShardStopsWithTheFile) {
  TempDir tmp;
  const std::string root = copy_fixture("PathVQA", tmp);
  const std::string shard = root + "/data/test-00000-of-00001-fixture.parquet";
  truncate_file(shard, 0.7);
  const std::string e = error_of("PathVQA", "vqa", "test", root);
  EXPECT_NE(e.find(shard), std::string::npos) << e;
  EXPECT_NE(e.find("not a Parquet file or truncated"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("PathVQA: ", 0), 0u) << e;
  EXPECT_NE(e.find("; expected layout: {image_path}/[data/]{train,validation,test}-NNNNN-of-NNNNN"), std::string::npos)
      << e;
  const CheckReport r = check("PathVQA", root);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.counts.at("train"), 5);
}

TEST(BadInputParquet, MissingShardsNameTheLayout) {
  TempDir tmp;
  const std::string e = error_of("PathVQA", "vqa", "train", tmp.path());
  EXPECT_NE(e.find("no parquet shards for split train"), std::string::npos) << e;
  EXPECT_NE(e.find("flaviagiammarino/path-vqa"), std::string::npos) << e;
}

TEST(BadInputParquet, CorruptEmbeddedImageIsReportedByCheck) {
  TempDir tmp;
  const std::string root = tmp / "PathVQA";
  const std::string spec = tmp / "spec.json";
  write_text(spec, R"({"out": ")" + root + R"(/data/test-00000-of-00001.parquet", "columns": [
      {"name": "image", "type": "image", "values": [{"bytes": "bm90IGFuIGltYWdl", "path": null}, null]},
      {"name": "question", "type": "utf8", "values": ["is it?", "what?"]},
      {"name": "answer", "type": "utf8", "values": ["yes", "x"]}]})");
  ASSERT_STRNE(MVB_NODE, "") << "node is needed to write parquet test files";
  const auto w = run_command({MVB_NODE, source_dir() + "/tests/oracles/io/write_parquet.mjs", spec});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  const auto test = load_split("PathVQA", "vqa", "test", root);
  ASSERT_EQ(test.size(), 2u);
  EXPECT_TRUE(test[0].error.empty());
  EXPECT_NE(test[1].error.find("the image cell is empty"), std::string::npos) << test[1].error;
}

// Defect 12 (issue 18): the reference writes image_path "NA" for every parquet item, so rows that fail
// (an empty question, an image that cannot be read) keep the marker predictions.json's failed rows use.
TEST(BadInputParquet, FailedRowsKeepTheReferenceImagePathNA) {
  TempDir tmp;
  const std::string root = tmp / "VQA-RAD";
  const std::string spec = tmp / "spec.json";
  write_text(spec, R"({"out": ")" + root + R"(/data/test-00000-of-00001.parquet", "columns": [
      {"name": "image", "type": "image", "values": [{"bytes": "bm90IGFuIGltYWdl", "path": null}, null, null]},
      {"name": "question", "type": "utf8", "values": ["is it?", null, "what?"]},
      {"name": "answer", "type": "utf8", "values": ["yes", "no", "x"]}]})");
  ASSERT_STRNE(MVB_NODE, "") << "node is needed to write parquet test files";
  const auto w = run_command({MVB_NODE, source_dir() + "/tests/oracles/io/write_parquet.mjs", spec});
  ASSERT_EQ(w.exit_code, 0) << w.err;
  const auto test = load_split("VQA-RAD", "vqa", "test", root);
  ASSERT_EQ(test.size(), 3u);
  EXPECT_NE(test[1].error.find("empty question or answer"), std::string::npos) << test[1].error;
  EXPECT_NE(test[2].error.find("the image cell is empty"), std::string::npos) << test[2].error;
  for (const auto& s : test) EXPECT_EQ(s.metadata.value("reference_image_path", ""), "NA") << s.id;
}

}  // namespace
}  // namespace mvb::test
