#include "core/huge_page_copy.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace lmforge {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// An anonymous mapping, unmapped when the last copy of the owner goes.
struct Mapping {
  void* base = nullptr;
  size_t size = 0;
  Mapping(void* b, size_t s) : base(b), size(s) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { ::munmap(base, size); }
};

bool transparent_huge_pages_on() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(f, line)) return false;  // no THP in this kernel (or not Linux)
  return line.find("[never]") == std::string::npos;
}

}  // namespace

bool huge_page_copies_wanted() {
  static const bool wanted = [] {
    const char* off = std::getenv("LMFORGE_NO_HUGE_PAGES");
    if (off && std::strcmp(off, "0") != 0 && *off) return false;
    return transparent_huge_pages_on();
  }();
  return wanted;
}

HugePageCopy huge_page_copy(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return {};
  // Round up to whole huge pages and map one more, so that an aligned start fits; the slack
  // before and after it is unmapped at once.
  const size_t size = (bytes.size() + kHugePage - 1) / kHugePage * kHugePage;
  if (size < bytes.size() || size + kHugePage < size) return {};  // size_t overflow
  void* raw = ::mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return {};
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) ::munmap(raw, aligned - start);
  const size_t tail = start + size + kHugePage - (aligned + size);
  if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  auto* base = reinterpret_cast<uint8_t*>(aligned);
  auto owner = std::make_shared<const Mapping>(base, size);
  // Advice before the first write, so the first touch of each 2 MiB range faults in a huge page.
  // Refused advice (a kernel without THP) still leaves a correct copy.
  (void)::madvise(base, size, MADV_HUGEPAGE);
  std::memcpy(base, bytes.data(), bytes.size());
  return {std::move(owner), {base, bytes.size()}};
}

}  // namespace lmforge
