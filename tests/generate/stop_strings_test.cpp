// StopStringFilter: what is released, what is held back, and where generation stops.
#include "generate/stop_strings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lmforge {
namespace {

// Pushes the pieces; returns the released text and whether a stop string was found.
std::pair<std::string, bool> feed(StopStringFilter& f, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& p : pieces) {
    const auto step = f.push(p);
    out += step.release;
    if (step.stopped) return {out, true};
  }
  return {out + f.flush(), false};
}

TEST(StopStrings, StopsBeforeAStringSplitAcrossPieces) {
  StopStringFilter f({"User:"});
  const auto [text, stopped] = feed(f, {"Hello", " there\nUs", "er: more"});
  EXPECT_TRUE(stopped);
  EXPECT_EQ(text, "Hello there\n");
}

TEST(StopStrings, HoldsBackOnlyWhatCouldStillMatch) {
  StopStringFilter f({"abc"});
  auto s = f.push("xxab");
  EXPECT_EQ(s.release, "xx");  // "ab" may become "abc"
  EXPECT_FALSE(s.stopped);
  s = f.push("d");  // "abd" cannot: all of it goes
  EXPECT_EQ(s.release, "abd");
  s = f.push("a");
  EXPECT_EQ(s.release, "");
  EXPECT_EQ(f.flush(), "a");  // generation ended for another reason: the held text is shown
}

TEST(StopStrings, EarliestOfSeveralWins) {
  StopStringFilter f({"world", "lo w"});
  const auto [text, stopped] = feed(f, {"hello world"});
  EXPECT_TRUE(stopped);
  EXPECT_EQ(text, "hel");
}

TEST(StopStrings, NoStringsOrEmptyOnesPassEverything) {
  StopStringFilter none({});
  EXPECT_FALSE(none.active());
  EXPECT_EQ(feed(none, {"a", "b"}), (std::pair<std::string, bool>{"ab", false}));
  StopStringFilter empty({""});
  EXPECT_FALSE(empty.active());
  EXPECT_EQ(empty.push("x").release, "x");
}

TEST(StopStrings, TakesNothingAfterStopping) {
  StopStringFilter f({"!"});
  EXPECT_TRUE(f.push("hi!").stopped);
  const auto s = f.push("more");
  EXPECT_EQ(s.release, "");
  EXPECT_EQ(f.flush(), "");
}

}  // namespace
}  // namespace lmforge
