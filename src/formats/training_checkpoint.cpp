#include "formats/training_checkpoint.h"

namespace lmforge {

nlohmann::json describe_training_checkpoint(const TensorSource&) { return nullptr; }

std::unique_ptr<TensorSource> training_checkpoint_weights(std::unique_ptr<TensorSource> checkpoint) { return checkpoint; }

}  // namespace lmforge
