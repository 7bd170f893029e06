#include "medvlmbench/core/strings.h"

#include <gtest/gtest.h>

namespace mvb {
namespace {

TEST(Strings, EditDistanceHandWorked) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("CLIP", "clip"), 0u);  // case-insensitive
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
}

TEST(Strings, ClosestMatch) {
  const std::vector<std::string> names = {"model_path", "model_base", "exp_path", "image_path"};
  EXPECT_EQ(closest_match("modle_path", names), "model_path");
  EXPECT_EQ(closest_match("imagepath", names), "image_path");
  EXPECT_EQ(closest_match("qqqqqqqqqq", names), "");
  EXPECT_EQ(closest_match("llava", {"LLaVA-1.5", "BLIP"}), "LLaVA-1.5");  // prefix counts as close
}

TEST(Strings, SplitJoinTrim) {
  EXPECT_EQ(split("a/b//c", '/'), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(join({"x", "y", "z"}, ", "), "x, y, z");
  EXPECT_EQ(trim("  \t hi there \n"), "hi there");
  EXPECT_TRUE(starts_with("cuda:1", "cuda"));
  EXPECT_TRUE(ends_with("model.safetensors", ".safetensors"));
  EXPECT_FALSE(ends_with("a", "abc"));
}

TEST(Strings, AppendUtf8EncodesEveryLength) {
  std::string s;
  for (char32_t cp : {U'A', U'\u00e9', U'\u20ac', U'\U0001F600'}) append_utf8(s, cp);
  EXPECT_EQ(s, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");  // A, e-acute, euro sign, grinning face
}

// Python's str.replace (non-overlapping, left to right; what the results must equal is worked by hand).
TEST(Strings, ReplaceAllScansLeftToRightWithoutOverlap) {
  EXPECT_EQ(replace_all("aaaa", "aa", "b"), "bb");
  EXPECT_EQ(replace_all("aaa", "aa", "b"), "ba");
  EXPECT_EQ(replace_all("abc", "", "x"), "abc");  // an empty pattern changes nothing
  EXPECT_EQ(replace_all("a</w>b</w>", "</w>", " "), "a b ");
  EXPECT_EQ(replace_all("xyx", "x", "xx"), "xxyxx");  // the replacement is not rescanned
  EXPECT_EQ(replace_all("", "a", "b"), "");
}

}  // namespace
}  // namespace mvb
