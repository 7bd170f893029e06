#include "medvlmbench/core/registry.h"

#include <gtest/gtest.h>

namespace mvb {
namespace {

Registry<int>& test_registry() {
  static Registry<int> r("widget");
  return r;
}
MVB_REGISTER(test_registry(), "LLaVA-1.5", 15);
MVB_REGISTER(test_registry(), "LLaVA-Med", 2);
MVB_REGISTER(test_registry(), "BioMedCLIP", 3);

TEST(Registry, StaticRegistrationAndExactLookup) {
  EXPECT_EQ(test_registry().get("LLaVA-1.5"), 15);
  EXPECT_EQ(test_registry().get("BioMedCLIP"), 3);
  EXPECT_EQ(test_registry().names(), (std::vector<std::string>{"BioMedCLIP", "LLaVA-1.5", "LLaVA-Med"}));
}

TEST(Registry, CaseInsensitiveFallbackResolvesCanonicalName) {
  EXPECT_EQ(test_registry().get("biomedclip"), 3);
  EXPECT_EQ(test_registry().canonical("llava-med"), "LLaVA-Med");
}

TEST(Registry, UnknownNameListsValidNamesAndClosestMatch) {
  try {
    test_registry().get("BioMedCLP");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown widget 'BioMedCLP'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("did you mean 'BioMedCLIP'?"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Valid widgets: BioMedCLIP, LLaVA-1.5, LLaVA-Med"), std::string::npos) << msg;
  }
}

TEST(Registry, NoSuggestionForWildGuess) {
  try {
    test_registry().get("zzzzzzzzzzzzzz");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).find("did you mean"), std::string::npos) << e.what();
  }
}

TEST(Registry, DuplicateRegistrationIsAnError) {
  Registry<int> r("thing");
  r.add("a", 1);
  EXPECT_THROW(r.add("a", 2), Error);
  EXPECT_THROW(r.add("", 2), Error);
}

}  // namespace
}  // namespace mvb
