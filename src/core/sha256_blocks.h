// The SHA-256 compression function over whole 64-byte blocks, in two forms: the portable one
// (FIPS 180-4's rounds in C++) and one on the x86 SHA extensions (SHA-NI: Intel since Ice Lake
// and Goldmont, AMD since Zen), chosen at run time. Fingerprinting a multi-gigabyte model before
// training is bounded by this function: the SHA-NI form runs it several times faster. Sha256
// (sha256.h) uses sha256_blocks; the portable twin stays for other CPUs and for the test that
// holds the two to the same state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmforge {

// Updates state (a..h) with n 64-byte blocks.
void sha256_blocks(uint32_t state[8], const uint8_t* blocks, size_t n);
void sha256_blocks_portable(uint32_t state[8], const uint8_t* blocks, size_t n);
// Whether this CPU has the SHA extensions (sha256_blocks_shani may run only then).
bool sha256_has_shani();
void sha256_blocks_shani(uint32_t state[8], const uint8_t* blocks, size_t n);

}  // namespace lmforge
