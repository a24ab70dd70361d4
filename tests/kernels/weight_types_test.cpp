#include "kernels/weight_types.h"

#include <gtest/gtest.h>

#include "kernels/interleaved.h"
#include "kernels/matmul.h"
#include "kernels/matmul_ref.h"
#include "quant/type_traits.h"

namespace lmforge {
namespace {

TEST(KernelWeightTypes, EveryRunnableTypeHasAReferenceDecoder) {
  // matmul_ref decodes rows through the quant table: a type the kernels run needs a row there.
  for (size_t i = 0; i < static_cast<size_t>(DType::kCount); ++i) {
    const DType t = static_cast<DType>(i);
    const KernelWeightType* kind = kernel_weight_type(t);
    if (kind == nullptr) continue;
    EXPECT_EQ(kind->type, t) << dtype_name(t);
    EXPECT_TRUE(can_decode(t)) << dtype_name(t);
    // 8-bit activation blocks are 32 elements: the weight's blocks must match them.
    if (kind->activations == ActivationForm::kInt8Blocks || kind->activations == ActivationForm::kInt8BlocksScaledSums) {
      EXPECT_EQ(dtype_info(t).block_size, 32u) << dtype_name(t);
    }
    // K-quant activations are 256-element super-blocks, as the weights' super-blocks.
    if (kind->activations == ActivationForm::kInt8SuperBlocks) {
      EXPECT_EQ(dtype_info(t).block_size, 256u) << dtype_name(t);
    }
    // The interleaved layout moves a 2-byte f16 scale per block (interleaved.h).
    if (kind->interleaved) {
      EXPECT_TRUE(has_leading_f16_scale(t)) << dtype_name(t);
    }
  }
}

TEST(KernelWeightTypes, SupportQueriesFollowTheTable) {
  for (size_t i = 0; i < static_cast<size_t>(DType::kCount); ++i) {
    const DType t = static_cast<DType>(i);
    const KernelWeightType* kind = kernel_weight_type(t);
    EXPECT_EQ(matmul_supports(t), kind != nullptr) << dtype_name(t);
    EXPECT_EQ(matmul_ref_supports(t), kind != nullptr) << dtype_name(t);
    EXPECT_EQ(InterleavedMatrix::supports(t), kind != nullptr && kind->interleaved)
        << dtype_name(t);
    if (kind == nullptr) continue;
    PackedActivations p;
    p.reset(t, 2, 256);
    EXPECT_EQ(p.is_quantized(), kind->activations != ActivationForm::kFloats) << dtype_name(t);
    EXPECT_EQ(p.scaled_sums(), kind->activations == ActivationForm::kInt8BlocksScaledSums) << dtype_name(t);
    EXPECT_EQ(p.is_super_blocks(), kind->activations == ActivationForm::kInt8SuperBlocks) << dtype_name(t);
  }
  EXPECT_EQ(kernel_weight_type(DType::F64), nullptr);  // decodable, but no fast product
}

TEST(KernelWeightTypes, NamesListEveryRow) {
  const std::string names = kernel_weight_type_names();
  EXPECT_EQ(names.rfind("F32, F16, BF16, Q8_0, Q4_0", 0), 0u) << names;
  for (const char* t : {"Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}) EXPECT_NE(names.find(t), std::string::npos) << names;
}

}  // namespace
}  // namespace lmforge
