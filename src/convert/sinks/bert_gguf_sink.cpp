#include "convert/sinks/bert_gguf_sink.h"

#include <chrono>
#include <filesystem>

#include "arch/bert/bert_config.h"
#include "arch/bert/bert_pooling.h"
#include "arch/bert/bert_tensors.h"
#include "convert/tensor_cast.h"
#include "core/error.h"
#include "core/text_checks.h"
#include "formats/gguf/gguf_writer.h"
#include "formats/hf_folder.h"
#include "tokenizer/wordpiece_vocab.h"

namespace lmforge {

namespace {

namespace fs = std::filesystem;

// llama.cpp's token types (llama_token_type / gguf.TokenType).
constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

// The vocabulary as llama.cpp's converter stores a WordPiece one.
void add_vocabulary(GgufWriter& w, const WordPieceVocab& v, uint32_t vocab_size, const std::string& folder) {
  if (v.size() > vocab_size)
    fail(folder, "the tokenizer has " + std::to_string(v.size()) + " tokens but the model's embeddings only " +
                     std::to_string(vocab_size));
  std::vector<int32_t> types(vocab_size, kNormal);
  for (const WordPieceAddedToken& a : v.added) types[static_cast<size_t>(a.id)] = a.special ? kControl : kUserDefined;
  std::vector<std::string> tokens(vocab_size);
  for (uint32_t i = 0; i < vocab_size; ++i) {
    if (i >= v.size()) {
      tokens[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = kUnused;
      continue;
    }
    const std::string& t = v.tokens[i];
    const std::string& cont = v.settings.continuing_prefix;
    if (types[i] == kControl)
      tokens[i] = t;
    else if (t.size() > cont.size() && t.compare(0, cont.size(), cont) == 0)
      tokens[i] = t.substr(cont.size());
    else
      tokens[i] = "\xE2\x96\x81" + t;  // U+2581, the "phantom space" of llama.cpp's WPM vocabulary
  }
  w.set("tokenizer.ggml.model", GgufValue::str("bert"));
  w.set("tokenizer.ggml.pre", GgufValue::str("default"));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(tokens));
  w.set("tokenizer.ggml.token_type", GgufValue::i32_array(types));
  auto id = [&](const char* key, int32_t value) {
    if (value >= 0) w.set(key, GgufValue::u32(static_cast<uint32_t>(value)));
  };
  id("tokenizer.ggml.bos_token_id", v.cls_id);
  id("tokenizer.ggml.eos_token_id", v.sep_id);
  id("tokenizer.ggml.unknown_token_id", v.unk_id);
  id("tokenizer.ggml.seperator_token_id", v.sep_id);  // sic: llama.cpp's key
  id("tokenizer.ggml.padding_token_id", v.pad_id);
  id("tokenizer.ggml.cls_token_id", v.cls_id);
  id("tokenizer.ggml.mask_token_id", v.mask_id);
  w.set("tokenizer.ggml.normalizer.lowercase", GgufValue::boolean(v.settings.lowercase));
  w.set("tokenizer.ggml.normalizer.strip_accents", GgufValue::boolean(v.settings.strips_accents()));
}

}  // namespace

ConvertReport write_bert_gguf(const std::string& folder, const std::string& dst, const ConvertOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  const DType matrix_type = opt.outtype.value_or(DType::F16);
  if (matrix_type != DType::F16 && matrix_type != DType::F32)
    throw UsageError("a BERT model converts to GGUF as f16 or f32 (got " + std::string(dtype_name(matrix_type)) + ")");
  BertConfig c;
  HfFolderChecks checks;
  checks.config = [&](const nlohmann::json& config, const std::string& path) { c = bert_config_from_json(config, path); };
  HfModel hf = open_hf_folder(folder, checks);
  const TensorSource& src = *hf.weights;
  const BertTensorMap map = map_bert_tensors(src.tensors(), c, folder);
  const WordPieceVocab vocab = load_wordpiece_vocab(folder);
  const BertPoolingChoice pooling = read_bert_pooling(folder, c.hidden_size);
  const bool has_pooling_module = pooling.source.rfind("default", 0) != 0;

  GgufWriter w;
  w.set("general.architecture", GgufValue::str("bert"));
  w.set("general.name", GgufValue::str(fs::path(folder).lexically_normal().filename().string()));
  w.set("general.file_type", GgufValue::u32(matrix_type == DType::F16 ? 1 : 0));
  w.set("bert.context_length", GgufValue::u32(c.max_position_embeddings));
  w.set("bert.embedding_length", GgufValue::u32(c.hidden_size));
  w.set("bert.feed_forward_length", GgufValue::u32(c.intermediate_size));
  w.set("bert.block_count", GgufValue::u32(c.num_hidden_layers));
  w.set("bert.attention.head_count", GgufValue::u32(c.num_attention_heads));
  w.set("bert.attention.layer_norm_epsilon", GgufValue::f32(c.layer_norm_eps));
  w.set("bert.attention.causal", GgufValue::boolean(false));
  if (has_pooling_module) w.set("bert.pooling_type", GgufValue::u32(static_cast<uint32_t>(pooling.pooling)));
  w.set("tokenizer.ggml.token_type_count", GgufValue::u32(c.type_vocab_size));
  add_vocabulary(w, vocab, c.vocab_size, folder);

  // Plan every tensor (types checked) before the first byte is written.
  const auto specs = bert_tensor_specs(c);
  uint64_t bytes_read = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorInfo& t = src.tensors()[map.source[i]];
    // As the converter: 1-D tensors, and the position and token-type tables (which llama.cpp's
    // graph adds to F32 activations directly), stay F32.
    const bool keep_f32 = t.shape.size() == 1 || specs[i].gguf == "position_embd.weight" || specs[i].gguf == "token_types.weight";
    const DType out = keep_f32 ? DType::F32 : matrix_type;
    if (t.dtype != out && !can_decode(t.dtype))
      fail(folder, "tensor " + quoted_for_message(t.name) + " has type " + std::string(dtype_name(t.dtype)) +
                       ", which cannot be converted");
    const uint64_t row = t.shape.back(), rows = t.numel() / row;
    const size_t index = map.source[i];
    const std::string name = t.name;
    const DType from = t.dtype;
    bytes_read += t.nbytes;
    w.add_tensor(specs[i].gguf, out, t.shape, [&src, index, from, out, rows, row, name, threads = opt.threads] {
      return cast_rows(src.read(index), from, out, rows, row, nullptr, name, threads);
    });
  }
  w.write(dst, opt.overwrite);
  return make_report(dst, specs.size(), bytes_read, start);
}

}  // namespace lmforge
