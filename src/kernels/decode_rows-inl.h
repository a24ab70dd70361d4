// The vector steps every block decoder of decode_rows_*.cpp shares: widen a run of byte codes
// to 32-bit lanes, and turn integer codes into floats with one block or group scale, in the
// float operations (and their order) of the reference decoders in quant/. A per-target header
// in Highway's style: include it after hwy/highway.h, outside any namespace; the toggling guard
// lets foreach_target.h compile it once per target.
#if defined(LMFORGE_KERNELS_DECODE_ROWS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LMFORGE_KERNELS_DECODE_ROWS_INL_H_
#undef LMFORGE_KERNELS_DECODE_ROWS_INL_H_
#else
#define LMFORGE_KERNELS_DECODE_ROWS_INL_H_
#endif

#include <cstdint>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 floats per vector: every block type groups its elements by 16 or 32 under one
// scale, so with a power-of-two lane count no vector straddles two groups.
using DecodeTag = hn::CappedTag<float, 16>;
using DecodeTagI32 = hn::RebindToSigned<DecodeTag>;

// Lanes(DecodeTag) bytes from `p`, zero-extended to 32-bit lanes.
HWY_INLINE hn::Vec<DecodeTagI32> LoadU8AsI32(const uint8_t* p) {
  const DecodeTagI32 di;
  const hn::Rebind<uint8_t, DecodeTagI32> d8;
  return hn::BitCast(di, hn::PromoteTo(hn::RebindToUnsigned<DecodeTagI32>(), hn::LoadU(d8, p)));
}

// Lanes(DecodeTag) signed bytes from `p`, sign-extended to 32-bit lanes.
HWY_INLINE hn::Vec<DecodeTagI32> LoadI8AsI32(const int8_t* p) {
  const hn::Rebind<int8_t, DecodeTagI32> d8;
  return hn::PromoteTo(DecodeTagI32(), hn::LoadU(d8, p));
}

// y = float(q) * d, as the references' "static_cast<float>(q) * d".
HWY_INLINE void StoreScaled(hn::Vec<DecodeTagI32> q, float d, float* y) {
  const DecodeTag df;
  hn::StoreU(hn::Mul(hn::ConvertTo(df, q), hn::Set(df, d)), df, y);
}

// y = float(q) * d + m: the product rounded, then the sum (never fused; see CMakeLists).
HWY_INLINE void StoreScaledPlus(hn::Vec<DecodeTagI32> q, float d, float m, float* y) {
  const DecodeTag df;
  hn::StoreU(hn::Add(hn::Mul(hn::ConvertTo(df, q), hn::Set(df, d)), hn::Set(df, m)), df, y);
}

// y = d * float(q) - m, the K-quants' "dl * q - ml" (dl, ml already rounded by the caller).
HWY_INLINE void StoreScaledMinus(hn::Vec<DecodeTagI32> q, float d, float m, float* y) {
  const DecodeTag df;
  hn::StoreU(hn::Sub(hn::Mul(hn::Set(df, d), hn::ConvertTo(df, q)), hn::Set(df, m)), df, y);
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#endif  // LMFORGE_KERNELS_DECODE_ROWS_INL_H_
