// Defect 12 (issue 18): dataset details against the reference's own classes. Split names the
// reference maps to one file read that file here too ("all" included), and a FairVLMed10k VQA row
// whose last field is missing is dropped as pandas' dropna() drops it, not made an error row.
#include <gtest/gtest.h>

#include "dataset_test_support.h"

namespace mvb::test {
namespace {

TEST(ReferenceDetails, CheXpertAllIsTheTrainingListAsInTheReference) {
  // CheXpert: test -> valid.csv, every other split name -> train.csv (the reference's rule).
  const auto all = load_split("CheXpert", "diagnosis", "all", dataset_fixture("CheXpert"));
  const auto train = load_split("CheXpert", "diagnosis", "train", dataset_fixture("CheXpert"));
  ASSERT_FALSE(train.empty());
  EXPECT_EQ(ids_of(all), ids_of(train));
  EXPECT_EQ(ids_of(load_split("CheXpert", "diagnosis", "validation", dataset_fixture("CheXpert"))), ids_of(train));
  for (const auto& s : load_split("CheXpert", "diagnosis", "test", dataset_fixture("CheXpert")))
    EXPECT_NE(s.image_path().find("/valid/"), std::string::npos) << s.image_path();
}

TEST(ReferenceDetails, CamelyonEverySplitButTrainIsTheTestSubset) {
  const auto test = ids_of(load_split("Camelyon17", "diagnosis", "test", dataset_fixture("Camelyon17")));
  ASSERT_FALSE(test.empty());
  EXPECT_EQ(ids_of(load_split("Camelyon17", "diagnosis", "all", dataset_fixture("Camelyon17"))), test);
  EXPECT_EQ(ids_of(load_split("Camelyon17", "diagnosis", "validation", dataset_fixture("Camelyon17"))), test);
}

TEST(ReferenceDetails, FairVlmedRowMissingItsLastFieldIsDroppedLikeDropna) {
  TempDir tmp;
  const std::string root = copy_fixture("FairVLMed10k", tmp);
  const std::string csv = root + "/vqa_train.csv";
  const auto before = load_split("Harvard-FairVLMed10k", "vqa", "train", root);
  // pandas reads a row without its last field (answer) with NaN there; dropna() removes the row.
  write_text(csv, read_text(csv) +
                      "The fundus appears normal.,data_00001.npz,data/data_00001.npz,CLOSED,Is there glaucoma?\n");
  const auto after = load_split("Harvard-FairVLMed10k", "vqa", "train", root);
  EXPECT_EQ(ids_of(after), ids_of(before));
  EXPECT_TRUE(errors_of(after).empty()) << errors_of(after)[0].error;
  // A row with an extra field is what pandas refuses: an error row naming the file.
  write_text(csv, read_text(csv) + "a,b,data/data_00001.npz,OPEN,q,answer,extra\n");
  const auto bad = errors_of(load_split("Harvard-FairVLMed10k", "vqa", "train", root));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].error.find("has 7 fields, header has 6"), std::string::npos) << bad[0].error;
}

}  // namespace
}  // namespace mvb::test
