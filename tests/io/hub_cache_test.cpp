// The hub-cache reader against caches laid out as huggingface_hub writes them (blobs + symlinked
// snapshots + refs/main), and the search order of transformers / huggingface_hub.
#include "medvlmbench/io/hub_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "support/hub_cache_fixture.h"
#include "support/test_support.h"

namespace mvb::io {
namespace {

namespace fs = std::filesystem;

const std::string kRev1 = "0123456789abcdef0123456789abcdef01234567";
const std::string kRev2 = "fedcba9876543210fedcba9876543210fedcba98";

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::vector<std::string> origins(const std::vector<HubCacheRoot>& roots) {
  std::vector<std::string> out;
  for (const auto& r : roots) out.push_back(r.origin);
  return out;
}

TEST(HubCache, RootsFollowTransformersPrecedence) {
  // Nothing set but HOME: only the default location.
  auto roots = hub_cache_roots("", env_of({{"HOME", "/home/u"}}));
  ASSERT_EQ(roots.size(), 1u);
  EXPECT_EQ(roots[0].path, "/home/u/.cache/huggingface/hub");
  // Everything set: --cache_dir (as cache_dir, then as HF_HOME), transformers' variables, then the hub's.
  roots = hub_cache_roots("/c", env_of({{"HOME", "/home/u"},
                                        {"HF_HOME", "/hf"},
                                        {"HF_HUB_CACHE", "/hubcache"},
                                        {"HUGGINGFACE_HUB_CACHE", "/legacy"},
                                        {"TRANSFORMERS_CACHE", "/tc"},
                                        {"XDG_CACHE_HOME", "/xdg"}}));
  EXPECT_EQ(origins(roots), (std::vector<std::string>{"--cache_dir", "--cache_dir as HF_HOME", "TRANSFORMERS_CACHE",
                                                      "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME/hub",
                                                      "XDG_CACHE_HOME/huggingface/hub", "default"}));
  EXPECT_EQ(roots[1].path, "/c/hub");
  EXPECT_EQ(roots[5].path, "/hf/hub");
  EXPECT_EQ(roots[6].path, "/xdg/huggingface/hub");
  // Empty variables count as unset; "~" expands with HOME; a root reached twice is listed once.
  roots = hub_cache_roots("", env_of({{"HOME", "/home/u"}, {"HF_HUB_CACHE", ""}, {"HF_HOME", "~/.cache/huggingface"}}));
  EXPECT_EQ(origins(roots), (std::vector<std::string>{"HF_HOME/hub"}));
  EXPECT_EQ(roots[0].path, "/home/u/.cache/huggingface/hub");
}

TEST(HubCache, RepoIdsAndFolders) {
  EXPECT_TRUE(is_hub_repo_id("openai/clip-vit-base-patch32"));
  EXPECT_TRUE(is_hub_repo_id("microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"));
  EXPECT_TRUE(is_hub_repo_id("bert-base-uncased"));
  for (const char* bad : {"", "./models/clip", "/abs/path", "a/b/c", "a//b", "org/-x", "org/x.", "a--b/c", "../x"})
    EXPECT_FALSE(is_hub_repo_id(bad)) << bad;
  EXPECT_EQ(hub_repo_folder("openai/clip-vit-base-patch32", HubRepoType::kModel),
            "models--openai--clip-vit-base-patch32");
  EXPECT_EQ(hub_repo_folder("BoKelvin/SLAKE", HubRepoType::kDataset), "datasets--BoKelvin--SLAKE");
}

TEST(HubCache, FindsTheSnapshotRefsMainNamesAndNothingElse) {
  test::TempDir dir;
  const std::string src = test::fixture_path("models/tiny-clip");
  // An older snapshot beside the current one: refs/main decides.
  test::make_hub_cache_entry(dir / "hub", "openai/clip-vit-base-patch32", src, kRev2);
  const std::string snap = test::make_hub_cache_entry(dir / "hub", "openai/clip-vit-base-patch32", src, kRev1);
  HubLookup r = find_hub_model("openai/clip-vit-base-patch32", "", env_of({{"HF_HUB_CACHE", dir / "hub"}}));
  ASSERT_TRUE(r.snapshot) << (r.problems.empty() ? "" : r.problems[0]);
  EXPECT_EQ(r.snapshot->revision, kRev1);
  EXPECT_EQ(r.snapshot->ref, "main");
  EXPECT_EQ(r.snapshot->root.origin, "HF_HUB_CACHE");
  EXPECT_TRUE(fs::equivalent(r.snapshot->folder, snap));
  // The files are symlinks into blobs/ and read through.
  EXPECT_TRUE(fs::is_symlink(fs::path(snap) / "config.json"));
  EXPECT_EQ(test::read_text(r.snapshot->folder + "/config.json"), test::read_text(src + "/config.json"));
  EXPECT_EQ(hub_snapshot_revision(r.snapshot->folder), kRev1);
  EXPECT_EQ(hub_snapshot_revision(src), "");
  // A commit hash as the revision picks that snapshot.
  HubLookup old =
      find_in_hub_cache("openai/clip-vit-base-patch32", HubRepoType::kModel, {{dir / "hub", "test"}}, kRev2);
  ASSERT_TRUE(old.snapshot);
  EXPECT_EQ(old.snapshot->revision, kRev2);
  EXPECT_EQ(old.snapshot->ref, "");
  // Models and datasets live side by side and are told apart.
  EXPECT_FALSE(find_hub_dataset("openai/clip-vit-base-patch32", "", env_of({{"HF_HUB_CACHE", dir / "hub"}})).snapshot);
}

TEST(HubCache, CacheDirWinsAndIsReadBothWays) {
  test::TempDir dir;
  const std::string src = test::fixture_path("models/tiny-clip");
  test::make_hub_cache_entry(dir / "home/.cache/huggingface/hub", "openai/clip-vit-base-patch32", src, kRev2);
  // --cache_dir ./cache holding models--* directly (from_pretrained(cache_dir=...)) ...
  test::make_hub_cache_entry(dir / "cache", "openai/clip-vit-base-patch32", src, kRev1);
  auto env = env_of({{"HOME", dir / "home"}});
  HubLookup r = find_hub_model("openai/clip-vit-base-patch32", dir / "cache", env);
  ASSERT_TRUE(r.snapshot);
  EXPECT_EQ(r.snapshot->revision, kRev1);
  EXPECT_EQ(r.snapshot->root.origin, "--cache_dir");
  // ... or as HF_HOME (models--* under hub/), which the reference's --cache_dir also sets.
  test::TempDir dir2;
  test::make_hub_cache_entry(dir2 / "cache/hub", "openai/clip-vit-base-patch32", src, kRev1);
  r = find_hub_model("openai/clip-vit-base-patch32", dir2 / "cache", env);
  ASSERT_TRUE(r.snapshot);
  EXPECT_EQ(r.snapshot->root.origin, "--cache_dir as HF_HOME");
  // Without --cache_dir the default location is used.
  r = find_hub_model("openai/clip-vit-base-patch32", "", env);
  ASSERT_TRUE(r.snapshot);
  EXPECT_EQ(r.snapshot->revision, kRev2);
  EXPECT_EQ(r.snapshot->root.origin, "default");
}

TEST(HubCache, DatasetRepositories) {
  test::TempDir dir;
  test::make_hub_cache_entry(dir / "hub", "BoKelvin/SLAKE", test::fixture_path("models/tiny-clip"), kRev1,
                             /*dataset=*/true);
  HubLookup r = find_hub_dataset("BoKelvin/SLAKE", "", env_of({{"HF_HOME", dir.path()}}));
  ASSERT_TRUE(r.snapshot);
  EXPECT_NE(r.snapshot->folder.find("datasets--BoKelvin--SLAKE/snapshots/" + kRev1), std::string::npos);
  EXPECT_FALSE(find_hub_model("BoKelvin/SLAKE", "", env_of({{"HF_HOME", dir.path()}})).snapshot);
}

TEST(HubCache, MissingAndBrokenEntriesSayWhereAndWhy) {
  test::TempDir dir;
  auto env = env_of({{"HOME", dir / "home"}, {"HF_HOME", dir / "hf"}});
  HubLookup r = find_hub_model("openai/clip-vit-base-patch32", dir / "cache", env);
  EXPECT_FALSE(r.snapshot);
  EXPECT_TRUE(r.problems.empty());
  ASSERT_EQ(r.searched.size(), 4u);  // cache_dir, cache_dir/hub, HF_HOME/hub, default
  EXPECT_NE(r.searched[0].find(dir / "cache/models--openai--clip-vit-base-patch32 (--cache_dir)"), std::string::npos);
  EXPECT_NE(r.searched[2].find("hf/hub/models--openai--clip-vit-base-patch32 (HF_HOME/hub)"), std::string::npos);
  EXPECT_NE(r.searched[3].find("home/.cache/huggingface/hub/models--openai--clip-vit-base-patch32 (default)"),
            std::string::npos);
  // Downloaded by commit hash (no refs/main): not used, as transformers would not; the snapshot is named.
  test::make_hub_cache_entry(dir / "hf/hub", "openai/clip-vit-base-patch32", test::fixture_path("models/tiny-clip"),
                             kRev1, false, /*write_ref=*/false);
  r = find_hub_model("openai/clip-vit-base-patch32", "", env);
  EXPECT_FALSE(r.snapshot);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("has no refs/main (snapshots: " + kRev1 + ")"), std::string::npos) << r.problems[0];
  // refs/main naming a snapshot that is gone (an interrupted download or a pruned cache).
  fs::create_directories(dir / "hf/hub/models--openai--clip-vit-base-patch32/refs");
  test::write_text(dir / "hf/hub/models--openai--clip-vit-base-patch32/refs/main", kRev2);
  r = find_hub_model("openai/clip-vit-base-patch32", "", env);
  EXPECT_FALSE(r.snapshot);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("names snapshot '" + kRev2 + "'"), std::string::npos) << r.problems[0];
}

}  // namespace
}  // namespace mvb::io
