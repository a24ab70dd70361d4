// Copies of weights in anonymous memory advised for transparent huge pages (2 MiB pages).
//
// Generation reads every weight once per token. From a file mapping those reads go through
// 4 KiB pages (the page cache of a GGUF file is rarely mapped with 2 MiB entries), so a 2 GB
// model costs half a million TLB misses per token and the hardware prefetchers stop at every
// 4 KiB boundary. On the Sapphire Rapids VM an F16 row stream ran 25-30 % faster from huge
// pages (docs/benchmarks.md, "F16 generation on huge pages").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace lmforge {

// Whether copying weights onto huge pages can pay: transparent huge pages are not switched off
// on this system (/sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise") and
// the environment does not say LMFORGE_NO_HUGE_PAGES=1 (for comparisons on one binary).
bool huge_page_copies_wanted();

// `bytes` copied into a fresh anonymous mapping that starts on a 2 MiB boundary and is advised
// MADV_HUGEPAGE before it is written; the returned span is valid as long as the owner lives.
// Null owner when the system refuses the mapping (the caller keeps reading the original).
struct HugePageCopy {
  std::shared_ptr<const void> owner;
  std::span<const uint8_t> bytes;
};
HugePageCopy huge_page_copy(std::span<const uint8_t> bytes);

}  // namespace lmforge
