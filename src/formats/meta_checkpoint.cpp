#include "formats/meta_checkpoint.h"

#include "core/error.h"

namespace lmforge {

bool is_meta_checkpoint_dir(const std::string&) { return false; }

LlamaModelSource open_meta_llama(const std::string& dir) { fail(dir, "Meta consolidated checkpoints: not supported yet"); }

}  // namespace lmforge
