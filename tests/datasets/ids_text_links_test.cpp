// Issue 18, defects 1, 3 and 10 at the loader level: sample ids are unique and stable (duplicate
// SLAKE qids, an error row whose fallback id equals a record's qid, file names that are not UTF-8),
// sample text is valid UTF-8 (decoded with replacement), and symbolic links in the data folder follow
// one documented policy (datasets/README.md): followed, also out of the root; dangling or looping
// links are that sample's error row.
#include <gtest/gtest.h>

#include <set>

#include "dataset_test_support.h"
#include "medvlmbench/core/strings.h"
#include "medvlmbench/core/utf8.h"

namespace mvb::test {
namespace {

namespace fs = std::filesystem;

std::set<std::string> ids_of(const std::vector<Sample>& samples) {
  std::set<std::string> out;
  for (const auto& s : samples) out.insert(s.id);
  return out;
}

// What a JSON writer keeps of an id (invalid UTF-8 replaced), i.e. what predictions.jsonl holds.
std::string as_written(const std::string& id) {
  return nlohmann::json(id).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(SampleIds, DuplicateQidsAndMalformedRecordsKeepDistinctStableIds) {
  TempDir tmp;
  const std::string root = copy_fixture("SLAKE", tmp);
  nlohmann::json records = nlohmann::json::parse(read_text(root + "/test.json"));
  ASSERT_EQ(records.size(), 5u);
  ASSERT_EQ(records[0]["qid"], 8);
  // Record 5: a second question with qid 9 (SLAKE has such pairs). Records 6, 7: Chinese (skipped by the
  // loader). Record 8: not an object, so its error row falls back to the record index, "test/8", the id
  // of the valid question with qid 8.
  nlohmann::json dup = records[1];
  dup["question"] = "Where is the abnormality?";
  records.push_back(dup);
  records.push_back(records[4]);
  records.push_back(records[4]);
  records.push_back("not a record");
  write_text(root + "/test.json", records.dump(1));

  const auto a = load_split("SLAKE", "vqa", "test", root);
  ASSERT_EQ(a.size(), 6u);  // 4 English questions + the duplicate + the error row
  EXPECT_EQ(ids_of(a).size(), a.size()) << "two samples share an id; one row would replace the other";
  // The first occurrence keeps the plain id; later ones get a suffix, in dataset order.
  ASSERT_NE(find_id(a, "test/8"), nullptr);
  EXPECT_TRUE(find_id(a, "test/8")->error.empty());
  ASSERT_NE(find_id(a, "test/8#2"), nullptr);
  EXPECT_NE(find_id(a, "test/8#2")->error.find("not an object"), std::string::npos);
  ASSERT_NE(find_id(a, "test/9#2"), nullptr);
  EXPECT_EQ(find_id(a, "test/9#2")->question, "Where is the abnormality?");
  EXPECT_EQ(find_id(a, "test/9")->question, "Is this normal or abnormal?");
  // Stable: the same folder gives the same ids again.
  const auto b = load_split("SLAKE", "vqa", "test", root);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].id, b[i].id);
}

TEST(SampleIds, NonUtf8FileNamesStayDistinctOnceWritten) {
  TempDir tmp;
  const std::string root = copy_fixture("ChestXray", tmp);
  const std::string dir = root + "/test/NORMAL/";
  fs::copy_file(dir + "normal_test_0.jpeg", dir + "scan_\xff.jpeg");
  fs::copy_file(dir + "normal_test_0.jpeg", dir + "scan_\xfe.jpeg");
  const auto test = load_split("ChestXray", "diagnosis", "test", root);
  ASSERT_EQ(test.size(), 6u);
  std::set<std::string> written;
  for (const auto& s : test) {
    EXPECT_TRUE(s.error.empty()) << s.id << ": " << s.error;
    EXPECT_TRUE(is_valid_utf8(s.id)) << s.id;
    written.insert(as_written(s.id));
  }
  EXPECT_EQ(written.size(), test.size()) << "ids collide once invalid UTF-8 is replaced in predictions.jsonl";
  EXPECT_NE(find_id(test, "test/NORMAL/scan_\\xff.jpeg"), nullptr);
  // The image path keeps the real bytes, so the file still opens.
  EXPECT_EQ(find_id(test, "test/NORMAL/scan_\\xff.jpeg")->image_path(), dir + "scan_\xff.jpeg");
}

TEST(SampleText, NonUtf8TextIsDecodedWithReplacement) {
  TempDir tmp;
  const std::string root = copy_fixture("FairVLMed10k", tmp);
  std::string csv = read_text(root + "/vqa_test.csv");
  const std::string q = "Is there glaucoma?";
  ASSERT_NE(csv.find(q), std::string::npos);
  csv.replace(csv.find(q), q.size(), "Is there glaucoma \xe9\xff?");  // Latin-1 e-acute, a stray byte
  write_text(root + "/vqa_test.csv", csv);
  const auto test = load_split("Harvard-FairVLMed10k", "vqa", "test", root);
  bool found = false;
  for (const auto& s : test) {
    EXPECT_TRUE(is_valid_utf8(s.question) && is_valid_utf8(s.prompt) && is_valid_utf8(s.answer)) << s.id;
    if (s.question.find("glaucoma") != std::string::npos && s.question.find("\xef\xbf\xbd") != std::string::npos) {
      // Python: b"Is there glaucoma \xe9\xff?".decode("utf-8", "replace") -> two U+FFFD.
      EXPECT_EQ(s.question, "Is there glaucoma \xef\xbf\xbd\xef\xbf\xbd?");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(Utf8, ReplaceAndEscapeFollowPython) {
  // bytes.decode("utf-8", "replace") replaces each maximal invalid subpart with one U+FFFD.
  EXPECT_EQ(utf8_replace_invalid("a\xe2\x82"
                                 "b"),
            "a\xef\xbf\xbd"
            "b");  // truncated 3-byte sequence: one
  EXPECT_EQ(utf8_replace_invalid("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate: three
  EXPECT_EQ(utf8_replace_invalid("\xf0\x9f\x98\x80 ok"), "\xf0\x9f\x98\x80 ok");
  EXPECT_EQ(utf8_escape_invalid("x\xff\xfey"), "x\\xff\\xfey");
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));  // overlong
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9"));
}

TEST(SymbolicLinks, DanglingAndLoopingLinksAreErrorRowsAndOutsideLinksAreFollowed) {
  TempDir tmp;
  const std::string root = copy_fixture("ChestXray", tmp);
  const std::string dir = root + "/test/PNEUMONIA/";
  fs::create_symlink(tmp / "gone.jpeg", dir + "dangling.jpeg");
  fs::create_symlink(dir + "loop.jpeg", dir + "loop.jpeg");
  // A link leaving the data root (policy: followed, as for datasets linked in from shared storage).
  fs::copy_file(dir + "pneumonia_test_0.jpeg", tmp / "outside.jpeg");
  fs::create_symlink(tmp / "outside.jpeg", dir + "outside.jpeg");

  std::vector<Sample> test;
  ASSERT_NO_THROW(test = load_split("ChestXray", "diagnosis", "test", root));
  ASSERT_EQ(test.size(), 7u) << "a link was dropped from the split";
  const Sample* dangling = find_id(test, "test/PNEUMONIA/dangling.jpeg");
  const Sample* loop = find_id(test, "test/PNEUMONIA/loop.jpeg");
  const Sample* outside = find_id(test, "test/PNEUMONIA/outside.jpeg");
  ASSERT_TRUE(dangling && loop && outside);
  EXPECT_NE(dangling->error.find("broken symbolic link " + dir + "dangling.jpeg"), std::string::npos)
      << dangling->error;
  EXPECT_NE(loop->error.find("broken symbolic link"), std::string::npos) << loop->error;
  EXPECT_TRUE(outside->error.empty()) << outside->error;
  EXPECT_EQ(errors_of(test).size(), 2u);

  // The same through an annotation file (SLAKE): the link is named, the other samples load.
  const std::string slake = copy_fixture("SLAKE", tmp);
  fs::remove(slake + "/imgs/xmlab9/source.jpg");
  fs::create_symlink("source.jpg", slake + "/imgs/xmlab9/source.jpg");
  const auto vqa = load_split("SLAKE", "vqa", "test", slake);
  ASSERT_EQ(errors_of(vqa).size(), 1u);
  EXPECT_NE(errors_of(vqa)[0].error.find("broken symbolic link"), std::string::npos) << errors_of(vqa)[0].error;
}

}  // namespace
}  // namespace mvb::test
