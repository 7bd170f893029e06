// --limit / --shard selection (deterministic, skips unselected samples without building them) and
// the registry entries users type (the reference's names).
#include <gtest/gtest.h>

#include <algorithm>

#include "dataset_test_support.h"
#include "medvlmbench/core/error.h"

namespace mvb::test {
namespace {

std::vector<std::string> ids(std::unique_ptr<SampleReader> r) {
  std::vector<std::string> out;
  Sample s;
  while (r->next(s)) out.push_back(s.id);
  return out;
}

std::unique_ptr<SampleReader> open_all(const std::string& name, const std::string& root, const std::string& task) {
  return dataset_registry().get(name).factory()->open(DatasetRequest{task, "all", root, ""});
}

TEST(SampleSelection, ShardThenLimitIsDeterministic) {
  const std::string root = dataset_fixture("PneumoniaMNIST");
  const auto all = ids(open_all("PneumoniaMNIST", root, "diagnosis"));
  ASSERT_EQ(all.size(), 8u);
  const auto sel = SampleSelection::parse("1/3", 2);
  const auto a = ids(select_samples(open_all("PneumoniaMNIST", root, "diagnosis"), sel));
  EXPECT_EQ(a, (std::vector<std::string>{all[1], all[4]}));
  EXPECT_EQ(ids(select_samples(open_all("PneumoniaMNIST", root, "diagnosis"), sel)), a);  // same again
  // The shards partition the dataset.
  std::vector<std::string> joined;
  for (int i = 0; i < 3; ++i) {
    auto part = ids(select_samples(open_all("PneumoniaMNIST", root, "diagnosis"),
                                   SampleSelection::parse(std::to_string(i) + "/3", -1)));
    joined.insert(joined.end(), part.begin(), part.end());
  }
  std::sort(joined.begin(), joined.end());
  auto sorted = all;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(joined, sorted);
  auto r = select_samples(open_all("PneumoniaMNIST", root, "diagnosis"), SampleSelection::parse("2/3", -1));
  EXPECT_EQ(r->size_hint(), 2);
  EXPECT_EQ(ids(select_samples(open_all("PneumoniaMNIST", root, "diagnosis"), SampleSelection::parse("", 3))),
            (std::vector<std::string>{all[0], all[1], all[2]}));
}

TEST(SampleSelection, BadSpecsAreUsageErrors) {
  EXPECT_THROW(SampleSelection::parse("3/3", -1), UsageError);
  EXPECT_THROW(SampleSelection::parse("a/b", -1), UsageError);
  EXPECT_THROW(SampleSelection::parse("1", -1), UsageError);
  EXPECT_THROW(SampleSelection::parse("", -5), UsageError);
}

// Counts how samples are consumed, to show unselected ones are skipped, not built.
class CountingReader : public SkippableSampleReader {
 public:
  explicit CountingReader(int n) : n_(n) {}
  bool next(Sample& s) override {
    if (pos_ >= n_) return false;
    s.id = std::to_string(pos_++);
    ++built;
    return true;
  }
  bool skip() override {
    if (pos_ >= n_) return false;
    ++pos_;
    ++skipped;
    return true;
  }
  int built = 0, skipped = 0;

 private:
  int n_, pos_ = 0;
};

TEST(SampleSelection, UnselectedSamplesAreSkippedWithoutBuilding) {
  auto inner = std::make_unique<CountingReader>(10);
  CountingReader* raw = inner.get();
  auto selected = select_samples(std::move(inner), SampleSelection::parse("1/4", -1));
  std::vector<std::string> got;
  Sample s;
  while (selected->next(s)) got.push_back(s.id);
  EXPECT_EQ(got, (std::vector<std::string>{"1", "5", "9"}));
  EXPECT_EQ(raw->built, 3);
  EXPECT_EQ(raw->skipped, 7);
}

TEST(SampleSelection, LazyLoaderSkipsArrayReads) {
  // A MedMNIST reader materialises pixels in next() only.
  auto r = open_all("PneumoniaMNIST", dataset_fixture("PneumoniaMNIST"), "diagnosis");
  auto* skippable = dynamic_cast<SkippableSampleReader*>(r.get());
  ASSERT_NE(skippable, nullptr);
  EXPECT_TRUE(skippable->skip());
  Sample s;
  ASSERT_TRUE(r->next(s));
  EXPECT_EQ(s.id, "train/1");
  EXPECT_TRUE(s.images[0].pixels);
}

TEST(DatasetRegistry, TheReferenceNamesAndTasks) {
  struct Want {
    const char* name;
    const char* task;
  };
  for (const Want& w :
       {Want{"SLAKE", "vqa"}, Want{"PathVQA", "vqa"}, Want{"VQA-RAD", "vqa"}, Want{"Harvard-FairVLMed10k", "vqa"},
        Want{"MedXpertQA", "vqa"}, Want{"OmniMedVQA", "vqa"}, Want{"MIMIC_CXR", "caption"},
        Want{"HarvardFairVLMed10k", "caption"}, Want{"HarvardFairVLMed10k", "diagnosis"},
        Want{"PneumoniaMNIST", "diagnosis"}, Want{"BreastMNIST", "diagnosis"}, Want{"DermaMNIST", "diagnosis"},
        Want{"Camelyon17", "diagnosis"}, Want{"HAM10000", "diagnosis"}, Want{"CheXpert", "diagnosis"},
        Want{"ChestXray", "diagnosis"}, Want{"GF3300", "diagnosis"}, Want{"PAPILA", "diagnosis"},
        Want{"Drishti", "diagnosis"}}) {
    ASSERT_TRUE(dataset_registry().contains(w.name)) << w.name;
    const auto ds = dataset_registry().get(w.name).factory();
    const auto& tasks = ds->info().tasks;
    EXPECT_NE(std::find(tasks.begin(), tasks.end(), w.task), tasks.end()) << w.name << " " << w.task;
    EXPECT_FALSE(ds->info().layout.empty()) << w.name;
    EXPECT_FALSE(ds->info().modality.empty()) << w.name;
    EXPECT_FALSE(ds->info().results_modality.empty()) << w.name;
    EXPECT_EQ(ds->info().name, w.name);
    if (std::string(w.task) == "diagnosis") {
      EXPECT_GE(ds->info().class_texts.size(), 2u) << w.name;
    }
  }
  EXPECT_EQ(dataset_registry().get("HarvardFairVLMed10k").factory()->info().tasks.front(), "caption");
  EXPECT_EQ(dataset_registry().get("Harvard-FairVLMed10k").factory()->info().tasks.front(), "vqa");
  EXPECT_EQ(dataset_registry().get("PathVQA").factory()->info().results_modality, "pathology");
  EXPECT_EQ(dataset_registry().get("MIMIC_CXR").factory()->info().results_modality, "Chest Xray");
  EXPECT_THROW(dataset_registry().get("PathVQAA"), UsageError);
}

TEST(DatasetRegistry, CheckOnEveryFixtureIsClean) {
  struct Case {
    const char* name;
    const char* fixture;
    const char* task;
  };
  for (const Case& c : {Case{"SLAKE", "SLAKE", "vqa"},
                        Case{"PathVQA", "PathVQA", "vqa"},
                        Case{"PathVQA", "PathVQA-original", "vqa"},
                        Case{"VQA-RAD", "VQA-RAD", "vqa"},
                        Case{"VQA-RAD", "VQA-RAD-original", "vqa"},
                        Case{"Harvard-FairVLMed10k", "FairVLMed10k", "vqa"},
                        Case{"MedXpertQA", "MedXpertQA", "vqa"},
                        Case{"OmniMedVQA", "OmniMedVQA", "vqa"},
                        Case{"MIMIC_CXR", "MIMIC_CXR", "caption"},
                        Case{"HarvardFairVLMed10k", "FairVLMed10k", "caption"},
                        Case{"HarvardFairVLMed10k", "FairVLMed10k", "diagnosis"},
                        Case{"PneumoniaMNIST", "PneumoniaMNIST", "diagnosis"},
                        Case{"BreastMNIST", "BreastMNIST", "diagnosis"},
                        Case{"DermaMNIST", "DermaMNIST", "diagnosis"},
                        Case{"Camelyon17", "Camelyon17", "diagnosis"},
                        Case{"HAM10000", "HAM10000", "diagnosis"},
                        Case{"CheXpert", "CheXpert", "diagnosis"},
                        Case{"ChestXray", "ChestXray", "diagnosis"},
                        Case{"GF3300", "GF3300", "diagnosis"},
                        Case{"PAPILA", "PAPILA", "diagnosis"},
                        Case{"Drishti", "Drishti", "diagnosis"}}) {
    const CheckReport r = dataset_registry().get(c.name).factory()->check(dataset_fixture(c.fixture), c.task);
    std::string problems;
    for (const auto& p : r.problems) problems += p + "\n";
    EXPECT_TRUE(r.ok) << c.name << " on " << c.fixture << ":\n" << problems;
    EXPECT_TRUE(problems.empty()) << problems;
  }
}

}  // namespace
}  // namespace mvb::test
