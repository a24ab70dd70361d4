// AMX detection and permission (see amx_support.h). x86-64 Linux only; elsewhere AMX is never
// usable.
#include "kernels/amx_support.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && defined(__linux__) && defined(LMFORGE_AMX_COMPILED)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#define LMFORGE_AMX_PROBE 1
#endif

namespace lmforge {

namespace {

#ifdef LMFORGE_AMX_PROBE
constexpr unsigned kArchReqXcompPerm = 0x1023;  // arch_prctl code (asm/prctl.h)
constexpr unsigned kXfeatureXtiledata = 18;     // the 8 KB tile data state component

bool probe() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1, amx_int8 = (d >> 25) & 1;
  const bool avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1;  // the decoders around the tiles
  if (!amx_tile || !amx_bf16 || !amx_int8 || !avx512f || !avx512bw) return false;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 5) & 1)) return false;  // AVX512_BF16
  // OSXSAVE (leaf 1 ECX bit 27) before reading XCR0.
  if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return false;
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if (((lo >> 17) & 3) != 3) return false;  // XTILECFG and XTILEDATA enabled by the OS
  if (((lo >> 5) & 7) != 7) return false;    // opmask and ZMM state (AVX-512)
  // Linux hands out the tile data state only on request (kernel 5.16+); 0 is granted.
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}
#else
bool probe() { return false; }
#endif

}  // namespace

bool amx_usable() {
  static const bool usable = probe();
  return usable;
}

bool amx_enabled() {
  static const bool enabled = [] {
    const char* off = std::getenv("LMFORGE_NO_AMX");
    if (off && *off && std::strcmp(off, "0") != 0) return false;
    return amx_usable();
  }();
  return enabled;
}

}  // namespace lmforge
