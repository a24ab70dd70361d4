#include "convert/llama_source.h"

#include <array>
#include <cctype>
#include <filesystem>

#include "convert/gguf_to_hf.h"
#include "convert/gguf_vocab.h"
#include "core/error.h"
#include "formats/ggml_legacy/ggml_legacy_reader.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/hf_folder.h"
#include "formats/meta_checkpoint.h"
#include "formats/onnx/onnx_reader.h"
#include "formats/sniff.h"

namespace lmforge {

namespace {

struct NamePair {
  std::string_view meta;  // after "layers.N." (or the whole name for globals)
  std::string_view gguf;  // after "blk.N."
};

// Meta's names (params in llama/model.py of the original release; legacy GGML files use them
// too), beside llama.cpp's.
constexpr std::array<NamePair, 9> kMetaLayerNames = {{
    {"attention_norm", "attn_norm"},
    {"attention.wq", "attn_q"},
    {"attention.wk", "attn_k"},
    {"attention.wv", "attn_v"},
    {"attention.wo", "attn_output"},
    {"ffn_norm", "ffn_norm"},
    {"feed_forward.w1", "ffn_gate"},
    {"feed_forward.w2", "ffn_down"},
    {"feed_forward.w3", "ffn_up"},
}};
constexpr std::array<NamePair, 3> kMetaGlobalNames = {{
    {"tok_embeddings", "token_embd"},
    {"norm", "output_norm"},
    {"output", "output"},
}};

std::optional<std::string> translate_meta(const std::string& name, bool to_gguf) {
  const std::string_view kind_weight = ".weight";
  if (name.size() <= kind_weight.size() || name.compare(name.size() - kind_weight.size(), kind_weight.size(), kind_weight) != 0)
    return std::nullopt;
  const std::string base = name.substr(0, name.size() - kind_weight.size());
  for (const auto& p : kMetaGlobalNames)
    if (base == (to_gguf ? p.meta : p.gguf)) return std::string(to_gguf ? p.gguf : p.meta) + ".weight";
  const std::string prefix = to_gguf ? "layers." : "blk.";
  if (base.rfind(prefix, 0) != 0) return std::nullopt;
  size_t i = prefix.size();
  const size_t digits = i;
  while (i < base.size() && std::isdigit(static_cast<unsigned char>(base[i]))) ++i;
  if (i == digits || i - digits > 6 || i >= base.size() || base[i] != '.') return std::nullopt;
  if (i - digits > 1 && base[digits] == '0') return std::nullopt;
  const std::string layer = base.substr(digits, i - digits);
  const std::string rest = base.substr(i + 1);
  for (const auto& p : kMetaLayerNames)
    if (rest == (to_gguf ? p.meta : p.gguf))
      return (to_gguf ? "blk." : "layers.") + layer + "." + std::string(to_gguf ? p.gguf : p.meta) + ".weight";
  return std::nullopt;
}

LlamaModelSource from_hf_folder(const std::string& dir) {
  HfModel hf = open_hf_folder(dir);
  LlamaModelSource m;
  m.path = dir;
  m.description = "Hugging Face model folder";
  m.config = hf.config;
  m.naming = LlamaNaming::kHuggingFace;
  m.name = std::filesystem::path(dir).filename().string();
  if (m.name.empty()) m.name = std::filesystem::path(dir).parent_path().filename().string();
  if (hf.config_json.contains("_name_or_path") && hf.config_json["_name_or_path"].is_string()) {
    std::string n = hf.config_json["_name_or_path"].get<std::string>();
    if (!n.empty()) m.name = std::filesystem::path(n).filename().string();
  }
  m.tokenizer_kvs = gguf_vocab_from_hf(hf, hf.config.vocab_size);
  m.spm = hf.tokenizer;
  m.warnings = hf.warnings;
  m.weights = std::move(hf.weights);
  return m;
}

LlamaModelSource from_gguf(const std::string& path) {
  auto g = GgufReader::open(path);
  LlamaModelSource m;
  m.path = path;
  m.description = g->format_description();
  m.config = llama_config_from_gguf(*g, path);
  m.naming = LlamaNaming::kGguf;
  const GgufValue* name = g->find_kv("general.name");
  m.name = name && name->type == GgufType::STRING ? name->s : std::filesystem::path(path).stem().string();
  for (const auto& kv : g->kvs())
    if (kv.key.rfind("tokenizer.", 0) == 0) m.tokenizer_kvs.push_back(kv);
  if (g->find_kv("tokenizer.ggml.model")) {
    try {
      m.spm = hf_tokenizer_from_gguf(*g).model;
    } catch (const Error&) {
      // Not a SentencePiece vocabulary: GGUF output keeps the keys; HF output will say so.
    }
  }
  m.weights = std::move(g);
  return m;
}

}  // namespace

std::optional<std::string> meta_to_gguf_name(const std::string& meta) { return translate_meta(meta, true); }
std::optional<std::string> gguf_to_meta_name(const std::string& gguf) { return translate_meta(gguf, false); }
bool is_ignored_meta_tensor(const std::string& meta) { return meta == "rope.freqs"; }

std::vector<GgufKv> gguf_vocab_from_spm(const SentencePieceModel& spm, uint32_t vocab_size, const std::string& file) {
  HfModel m;
  m.dir = file;
  m.tokenizer = spm;
  return gguf_vocab_from_hf(m, vocab_size);
}

LlamaModelSource open_llama_model_source(const std::string& path) {
  switch (sniff_format(path)) {
    case FileFormat::kHfFolder: return from_hf_folder(path);
    case FileFormat::kMetaFolder: return open_meta_llama(path);
    case FileFormat::kGgmlLegacy: return open_ggml_legacy_llama(path);
    case FileFormat::kOnnx: return open_onnx_llama(path);
    case FileFormat::kGguf: return from_gguf(path);
    default: break;
  }
  (void)open_model(path);  // says what is wrong with unreadable input
  fail(path, "not a whole llama model (expected a Hugging Face or Meta folder, a GGUF, legacy GGML or ONNX file)");
}

}  // namespace lmforge
