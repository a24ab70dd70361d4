// The output type policy of llama GGUF conversion, rule by rule.
#include "convert/gguf_type_policy.h"

#include <gtest/gtest.h>

#include <vector>

namespace lmforge {
namespace {

TensorInfo info(DType t, std::vector<uint64_t> shape) {
  TensorInfo i;
  i.dtype = t;
  i.shape = std::move(shape);
  return i;
}

using T = LlamaTensor;
using R = GgufTypeReason;

TEST(GgufTypePolicy, FileTypeIsRequestedElseTheMostCommonKeptQuantizedTypeElseF16) {
  const std::vector<TensorInfo> floats = {info(DType::BF16, {64, 64}), info(DType::F32, {64})};
  EXPECT_EQ(gguf_file_type(floats, std::nullopt), DType::F16);
  EXPECT_EQ(gguf_file_type(floats, DType::Q8_0), DType::Q8_0);
  const std::vector<TensorInfo> legacy = {info(DType::Q4_1, {64, 64}), info(DType::Q8_0, {32, 32}), info(DType::F16, {64, 256})};
  EXPECT_EQ(gguf_file_type(legacy, std::nullopt), DType::Q4_1);  // 4096 Q4_1 elements beat 1024 Q8_0 (F16 does not count)
  EXPECT_EQ(gguf_file_type(legacy, DType::F32), DType::F32);
  EXPECT_TRUE(gguf_keeps_quantized(DType::Q4_0));
  EXPECT_TRUE(gguf_keeps_quantized(DType::Q4_K));     // a K-quant with a codec and a llama ftype
  EXPECT_FALSE(gguf_keeps_quantized(DType::IQ4_NL));  // no codec row, so no llama ftype here
}

TEST(GgufTypePolicy, EachTensorGetsItsType) {
  const GgufTypePolicy f16{std::nullopt, DType::F16, false};
  const TensorInfo matrix = info(DType::BF16, {64, 64}), vector = info(DType::BF16, {64});
  auto pick = [](const GgufTypePolicy& p, T id, const TensorInfo& t, bool bias = false) { return gguf_tensor_type(p, {id, 0, bias}, t); };
  EXPECT_EQ(pick(f16, T::kAttnQ, matrix).type, DType::F16);
  EXPECT_EQ(pick(f16, T::kAttnQ, matrix).reason, R::kFileType);
  EXPECT_EQ(pick(f16, T::kAttnNorm, vector).type, DType::F32);
  EXPECT_EQ(pick(f16, T::kAttnQ, vector, true).reason, R::kVectorF32);  // a bias

  // q4_0 requested: rows of whole blocks quantize, the head takes Q8_0, other rows stay F16.
  const GgufTypePolicy q4{DType::Q4_0, DType::Q4_0, false};
  EXPECT_EQ(pick(q4, T::kFfnUp, matrix).type, DType::Q4_0);
  EXPECT_EQ(pick(q4, T::kOutput, matrix).type, DType::Q8_0);
  EXPECT_EQ(pick(q4, T::kOutput, matrix).reason, R::kOutputHeadQ8_0);
  EXPECT_EQ(pick(q4, T::kTokenEmbd, matrix).type, DType::Q4_0);  // untied: the embedding is not the head
  const GgufTypePolicy q4_tied{DType::Q4_0, DType::Q4_0, true};
  EXPECT_EQ(pick(q4_tied, T::kTokenEmbd, matrix).type, DType::Q8_0);
  const GgufTypePolicy q8{DType::Q8_0, DType::Q8_0, false};
  EXPECT_EQ(pick(q8, T::kOutput, matrix).type, DType::Q8_0);
  EXPECT_EQ(pick(q8, T::kOutput, matrix).reason, R::kFileType);
  const TensorInfo ragged = info(DType::F32, {64, 48});  // 48 is not a whole number of 32-blocks
  EXPECT_EQ(pick(q4, T::kFfnDown, ragged).type, DType::F16);
  EXPECT_EQ(pick(q4, T::kFfnDown, ragged).reason, R::kPartialBlocksF16);

  // No --outtype over a legacy Q4_1 file: its blocks are kept, float matrices beside them F16.
  const GgufTypePolicy keep{std::nullopt, DType::Q4_1, false};
  EXPECT_EQ(pick(keep, T::kAttnQ, info(DType::Q4_1, {64, 64})).type, DType::Q4_1);
  EXPECT_EQ(pick(keep, T::kAttnK, info(DType::Q8_0, {64, 64})).reason, R::kKeptQuantized);
  EXPECT_EQ(pick(keep, T::kOutput, info(DType::F32, {64, 64})).type, DType::F16);
  EXPECT_EQ(pick(keep, T::kOutput, info(DType::F32, {64, 64})).reason, R::kFloatBesideQuantized);
  EXPECT_EQ(pick(keep, T::kOutputNorm, info(DType::F32, {64})).type, DType::F32);
}

}  // namespace
}  // namespace lmforge
