// Whether this process may use Intel AMX tiles (the BF16 tile products of kernels/amx_matmul.h).
//
// Three things must hold: the CPU has the AMX-TILE, AMX-BF16 and AMX-INT8 features (CPUID leaf 7; and the
// AVX-512 F, BW and BF16 the code around the tiles uses), the OS saves tile and AVX-512 state on
// context switches (XCR0 bits 17-18, 5-7), and, on Linux, the kernel granted this
// process the large tile state (arch_prctl ARCH_REQ_XCOMP_PERM, asked once; a refusal just
// means no AMX). Nothing here executes an AMX instruction.
#pragma once

#include <cstdint>

namespace lmforge {

// True when the CPU, the OS and the compiler allow AMX tile products here. Computed once.
bool amx_usable();

// amx_usable(), unless the environment variable LMFORGE_NO_AMX is set to anything but "" or
// "0" (read once): the switch the engine asks, so the other products can be compared and tested.
bool amx_enabled();

// p rounded up to the next multiple of 64 bytes: the AMX buffers (vectors over-allocated by 63
// bytes) start on a cache line, so that one tile row is one line.
template <typename T>
T* aligned64(T* p) {
  return reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
}

}  // namespace lmforge
