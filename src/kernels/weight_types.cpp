#include "kernels/weight_types.h"

#include <array>

namespace lmforge {

namespace {

constexpr std::array<KernelWeightType, 13> kRows = {{
    {DType::F32, ActivationForm::kFloats, false},
    {DType::F16, ActivationForm::kFloats, false},
    {DType::BF16, ActivationForm::kFloats, false},
    {DType::Q8_0, ActivationForm::kInt8Blocks, true},
    {DType::Q4_0, ActivationForm::kInt8Blocks, true},
    {DType::Q4_1, ActivationForm::kInt8BlocksScaledSums, false},
    {DType::Q5_0, ActivationForm::kInt8Blocks, false},
    {DType::Q5_1, ActivationForm::kInt8BlocksScaledSums, false},
    {DType::Q2_K, ActivationForm::kInt8SuperBlocks, false},
    {DType::Q3_K, ActivationForm::kInt8SuperBlocks, false},
    {DType::Q4_K, ActivationForm::kInt8SuperBlocks, false},
    {DType::Q5_K, ActivationForm::kInt8SuperBlocks, false},
    {DType::Q6_K, ActivationForm::kInt8SuperBlocks, false},
}};

}  // namespace

const KernelWeightType* kernel_weight_type(DType t) {
  for (const auto& row : kRows)
    if (row.type == t) return &row;
  return nullptr;
}

std::string kernel_weight_type_names() {
  std::string names;
  for (const auto& row : kRows) {
    if (!names.empty()) names += ", ";
    names += dtype_name(row.type);
  }
  return names;
}

}  // namespace lmforge
