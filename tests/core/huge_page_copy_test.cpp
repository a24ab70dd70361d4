#include "core/huge_page_copy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace lmforge {
namespace {

// Bytes that differ from their neighbours, so a shifted or partial copy shows.
std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * 131 + i / 251) & 0xFF);
  return v;
}

// The kB of anonymous huge pages mapped in this process (smaps_rollup), -1 where unknown.
long anon_huge_kb() {
  std::ifstream f("/proc/self/smaps_rollup");
  std::string key;
  long kb = 0;
  while (f >> key) {
    if (key == "AnonHugePages:" && f >> kb) return kb;
  }
  return -1;
}

TEST(HugePageCopy, CopiesEveryByteOntoAnAlignedMapping) {
  // Neither a whole number of pages nor of huge pages, with a source not page-aligned.
  const std::vector<uint8_t> src = pattern((size_t{5} << 20) + 4099);
  const std::span<const uint8_t> from(src.data() + 3, src.size() - 3);
  const HugePageCopy c = huge_page_copy(from);
  ASSERT_TRUE(c.owner);
  ASSERT_EQ(c.bytes.size(), from.size());
  EXPECT_NE(c.bytes.data(), from.data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c.bytes.data()) % (size_t{2} << 20), 0u);
  EXPECT_TRUE(std::equal(from.begin(), from.end(), c.bytes.begin()));
}

TEST(HugePageCopy, OutlivesItsSourceAndEmptyInputGivesNothing) {
  HugePageCopy c;
  {
    const std::vector<uint8_t> src = pattern(1000);
    c = huge_page_copy(src);
  }
  ASSERT_TRUE(c.owner);
  const std::vector<uint8_t> expect = pattern(1000);
  EXPECT_TRUE(std::equal(expect.begin(), expect.end(), c.bytes.begin()));
  EXPECT_FALSE(huge_page_copy({}).owner);
}

// Where the system hands out transparent huge pages, a copy of a few of them gets some: the
// advice comes before the first write, and with THP "defrag" at its default (madvise) the kernel
// compacts memory for advised ranges rather than fall back to small pages.
TEST(HugePageCopy, LandsOnHugePagesWhereTheSystemHasThem) {
  if (!huge_page_copies_wanted()) GTEST_SKIP() << "transparent huge pages are off here";
  std::ifstream defrag_file("/sys/kernel/mm/transparent_hugepage/defrag");
  std::string defrag;
  std::getline(defrag_file, defrag);
  const bool compacts = defrag.find("[always]") != std::string::npos || defrag.find("[madvise]") != std::string::npos ||
                        defrag.find("[defer+madvise]") != std::string::npos;
  if (!compacts) GTEST_SKIP() << "THP defrag '" << defrag << "' may hand out small pages at the first touch";
  const long before = anon_huge_kb();
  if (before < 0) GTEST_SKIP() << "no /proc/self/smaps_rollup";
  const std::vector<uint8_t> src = pattern(size_t{8} << 20);
  const HugePageCopy c = huge_page_copy(src);
  ASSERT_TRUE(c.owner);
  const long after = anon_huge_kb();
  EXPECT_GT(after, before) << "AnonHugePages " << before << " -> " << after << " kB";
}

}  // namespace
}  // namespace lmforge
