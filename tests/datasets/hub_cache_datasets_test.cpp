// Defect 13 (issue 18): SLAKE, PathVQA and VQA-RAD are found in the Hugging Face hub cache that
// datasets.load_dataset fills (the reference's way of reading them), under --cache_dir or HF_HOME,
// in the real layout (datasets--org--name/{refs/main, snapshots/<rev>/ -> blobs/}).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "dataset_test_support.h"
#include "support/hub_cache_fixture.h"

namespace mvb::test {
namespace {

std::vector<Sample> load(const std::string& dataset, const std::string& split, const std::string& root,
                         const std::string& cache_dir) {
  auto reader = dataset_registry().get(dataset).factory()->open(DatasetRequest{"vqa", split, root, cache_dir});
  std::vector<Sample> out;
  Sample s;
  while (reader->next(s)) out.push_back(s);
  return out;
}

// What a sample is, without where its image lives.
std::vector<std::string> summary(const std::vector<Sample>& samples) {
  std::vector<std::string> out;
  for (const auto& s : samples) out.push_back(s.id + "|" + s.question + "|" + s.answer + "|" + s.question_type);
  return out;
}

// HF_HOME for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_)
      ::setenv(name_, old_.c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(HubCacheDatasets, VqaRadAndPathVqaFromCacheDirAndHfHome) {
  TempDir tmp;
  const std::string empty = tmp / "data";  // --image_path: nothing in it
  std::filesystem::create_directories(empty);
  // --cache_dir as the reference passes it (HF_HOME=cache_dir: the hub cache is cache_dir/hub).
  make_hub_cache_entry(tmp / "cache/hub", "flaviagiammarino/vqa-rad", dataset_fixture("VQA-RAD"), "0123abcd", true);
  const auto rad = load("VQA-RAD", "test", empty, tmp / "cache");
  ASSERT_EQ(rad.size(), 4u);
  EXPECT_TRUE(errors_of(rad).empty());
  EXPECT_EQ(summary(rad), summary(load("VQA-RAD", "test", dataset_fixture("VQA-RAD"), "")))
      << "the cached copy reads as the folder copy";
  // HF_HOME alone (no --cache_dir).
  make_hub_cache_entry(tmp / "home/hub", "flaviagiammarino/path-vqa", dataset_fixture("PathVQA"), "feed0001", true);
  {
    ScopedEnv home("HF_HOME", tmp / "home");
    ScopedEnv hub("HF_HUB_CACHE", tmp / "home/hub");
    const auto path = load("PathVQA", "train", empty, "");
    ASSERT_EQ(path.size(), 5u);
    EXPECT_TRUE(errors_of(path).empty());
  }
  // Not in any cache: the error names the repository and the places searched.
  try {
    ScopedEnv hub("HF_HUB_CACHE", tmp / "nowhere");
    load("PathVQA", "train", empty, tmp / "cache");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("flaviagiammarino/path-vqa"), std::string::npos) << m;
    EXPECT_NE(m.find(tmp / "cache"), std::string::npos) << m;
  }
}

TEST(HubCacheDatasets, SlakeAnnotationsFromTheHubCacheImagesFromImagePath) {
  TempDir tmp;
  // BoKelvin/SLAKE holds {train,validation,test}.json at the top (and imgs.zip, unpacked by the user).
  const std::string src = tmp / "repo";
  std::filesystem::create_directories(src);
  for (const char* f : {"train.json", "validation.json", "test.json"})
    std::filesystem::copy_file(dataset_fixture(std::string("SLAKE/") + f), src + "/" + f);
  make_hub_cache_entry(tmp / "cache/hub", "BoKelvin/SLAKE", src, "5eed5eed", true);
  const std::string imgs = tmp / "imgs";
  std::filesystem::copy(dataset_fixture("SLAKE/imgs"), imgs, std::filesystem::copy_options::recursive);
  const auto test = load("SLAKE", "test", imgs, tmp / "cache");
  ASSERT_EQ(test.size(), 4u);
  EXPECT_TRUE(errors_of(test).empty()) << errors_of(test)[0].error;
  EXPECT_EQ(summary(test), summary(load("SLAKE", "test", dataset_fixture("SLAKE"), "")));
  EXPECT_THROW(load("SLAKE", "test", imgs, tmp / "elsewhere"), Error);
}

}  // namespace
}  // namespace mvb::test
