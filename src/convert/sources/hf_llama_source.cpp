#include "convert/sources/hf_llama_source.h"

#include <set>

#include "arch/llama/llama_config_json.h"
#include "arch/llama/llama_names.h"
#include "convert/gguf_vocab.h"
#include "formats/gptq_linear.h"

namespace lmforge {

std::vector<std::string> check_llama_hf_tensors(const std::vector<TensorInfo>& tensors, const LlamaConfig& c) {
  // Shapes come from the one llama table in arch/llama, through the GGUF name.
  std::vector<std::string> warnings;
  std::set<std::string> present;
  for (const auto& t : tensors) {
    present.insert(t.name);
    if (is_ignored_hf_tensor(t.name)) continue;  // buffers, dropped on conversion
    // A GPTQ linear's tensors stand for its weight (their shapes: formats/gptq_linear).
    if (const auto module = gptq_tensor_module(t.name); module && hf_to_gguf_name(*module + ".weight")) {
      present.insert(*module + ".weight");
      continue;
    }
    const auto gguf = hf_to_gguf_name(t.name);
    const auto want = gguf ? llama_tensor_shape(*gguf, c) : std::nullopt;
    if (!want) {
      warnings.push_back("unexpected tensor name '" + t.name + "'");
    } else if (t.shape != *want) {
      warnings.push_back("tensor '" + t.name + "' has shape " + shape_text(t.shape) + " but config.json implies " + shape_text(*want));
    }
  }

  const auto hf = [](LlamaTensor id, uint32_t layer = 0) { return *spell_llama_tensor({id, layer, false}, LlamaSpelling::kHuggingFace); };
  std::vector<std::string> required = {hf(LlamaTensor::kTokenEmbd), hf(LlamaTensor::kOutputNorm)};
  if (!c.tie_word_embeddings) required.push_back(hf(LlamaTensor::kOutput));
  for (uint32_t i = 0; i < c.num_hidden_layers; ++i)
    for (const auto& row : llama_tensor_table())
      if (row.per_layer) required.push_back(hf(row.id, i));
  size_t missing = 0;
  for (const auto& r : required) {
    if (present.count(r)) continue;
    // A whole missing layer would otherwise produce a wall of warnings.
    if (++missing <= 20) warnings.push_back("missing tensor '" + r + "'");
  }
  if (missing > 20) warnings.push_back(std::to_string(missing - 20) + " more tensors are missing");
  return warnings;
}

LlamaHfFolder open_llama_hf_folder(const std::string& dir) {
  LlamaConfig config;
  HfFolderChecks checks;
  checks.config = [&](const nlohmann::json& j, const std::string& path) { config = llama_config_from_json(j, path); };
  checks.tensors = [&](const std::vector<TensorInfo>& tensors) { return check_llama_hf_tensors(tensors, config); };
  HfModel files = open_hf_folder(dir, checks);
  return LlamaHfFolder{std::move(files), config};
}

LlamaModelSource llama_source_from_hf_folder(const std::string& dir) {
  LlamaHfFolder folder = open_llama_hf_folder(dir);
  HfModel& hf = folder.files;
  LlamaModelSource m;
  m.path = dir;
  m.description = "Hugging Face model folder";
  m.config = folder.config;
  m.naming = LlamaNaming::kHuggingFace;
  m.name = folder_model_name(dir, hf.config_json);
  m.warnings = hf.warnings;
  m.tokenizer_kvs = gguf_vocab_from_hf(hf, folder.config, folder.config.vocab_size, &m.warnings);
  m.spm = hf.tokenizer;
  m.weights = std::move(hf.weights);
  return m;
}

}  // namespace lmforge
