// Highway versions of the F16/BF16 row decoders, compiled once per SIMD target
// (foreach_target.h) and picked at run time (HWY_DYNAMIC_DISPATCH), and decode_row_fast, which
// sends the block types to decode_rows_blocks32.cpp and decode_rows_kquants.cpp. See
// decode_rows.h.

#include <cstring>

#include "kernels/decode_rows.h"
#include "kernels/decode_rows_dispatch.h"
#include "quant/type_traits.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/decode_rows.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void DecodeRowF16(const uint8_t* in, float* out, size_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const size_t N = hn::Lanes(df);
  // Any element whose exponent field is all ones (inf, NaN) sends the row to the reference.
  auto special = hn::Zero(du16);
  const auto exp_mask = hn::Set(du16, uint16_t{0x7C00});
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto h = hn::LoadU(du16, reinterpret_cast<const uint16_t*>(in + 2 * i));
    special = hn::Or(special, hn::VecFromMask(du16, hn::Eq(hn::And(h, exp_mask), exp_mask)));
    hn::StoreU(hn::PromoteTo(df, hn::BitCast(dh, h)), df, out + i);
  }
  const bool tail_or_special = i < n || !hn::AllFalse(du16, hn::MaskFromVec(special));
  if (tail_or_special) decode_row(DType::F16, in, out, n);  // rare: redo the row exactly
}

void DecodeRowBF16(const uint8_t* in, float* out, size_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du32;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const size_t N = hn::Lanes(df);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto h = hn::PromoteTo(du32, hn::LoadU(du16, reinterpret_cast<const uint16_t*>(in + 2 * i)));
    hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(h)), df, out + i);
  }
  if (i < n) decode_row(DType::BF16, in + 2 * i, out + i, n - i);
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(DecodeRowF16);
HWY_EXPORT(DecodeRowBF16);

bool has_fast_decoder(DType t) {
  switch (t) {
    case DType::F16: case DType::BF16:
    case DType::Q8_0: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K:
      return true;
    default:
      return false;
  }
}

void decode_row_fast(DType t, const uint8_t* in, float* out, size_t n) {
  switch (t) {
    case DType::F16:
      return HWY_DYNAMIC_DISPATCH(DecodeRowF16)(in, out, n);
    case DType::BF16:
      return HWY_DYNAMIC_DISPATCH(DecodeRowBF16)(in, out, n);
    default:
      if (decode_blocks32_fast(t, in, out, n) || decode_kquants_fast(t, in, out, n)) return;
      return decode_row(t, in, out, n);
  }
}

}  // namespace lmforge
#endif  // HWY_ONCE
