#include "convert/sinks/bert_hf_sink.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "arch/bert/bert_config_gguf.h"
#include "arch/bert/bert_tensors.h"
#include "core/atomic_output.h"
#include "core/error.h"
#include "formats/detect/sniff.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/safetensors_writer.h"
#include "tokenizer/wordpiece_gguf.h"

namespace lmforge {

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f.good()) fail(path, "cannot write file");
}

}  // namespace

bool is_bert_gguf_path(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || sniff_format(path) != FileFormat::kGguf) return false;
  return is_bert_gguf(*GgufReader::open(path));
}

ConvertReport write_bert_hf_folder(const std::string& src, const std::string& dst_dir, const ConvertOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<const GgufReader> g = GgufReader::open(src);
  const BertConfig c = bert_config_from_gguf(*g, src);
  const WordPieceVocab vocab = wordpiece_vocab_from_gguf(*g, src);
  const auto pooling = bert_pooling_from_gguf(*g, src);

  // Plan: every tensor of the table, by its GGUF name, shape checked, written under its
  // BertModel name in its own type.
  std::vector<TensorToWrite> out;
  uint64_t bytes = 0;
  for (const BertTensorSpec& s : bert_tensor_specs(c)) {
    const ptrdiff_t i = g->find(s.gguf);
    if (i < 0) fail(src, "missing tensor " + s.gguf);
    const TensorInfo& t = g->tensors()[static_cast<size_t>(i)];
    if (t.shape != s.shape)
      fail(src, "tensor " + s.gguf + " has shape " + shape_text(t.shape) + " but the metadata needs " + shape_text(s.shape));
    if (dtype_info(t.dtype).safetensors_name.empty())
      fail(src, "tensor " + s.gguf + " has type " + std::string(dtype_name(t.dtype)) + ", which safetensors cannot hold");
    TensorToWrite w;
    w.info = t;
    w.info.name = s.hf;
    w.produce = [g, i] { return g->read(static_cast<size_t>(i)); };
    bytes += t.nbytes;
    out.push_back(std::move(w));
  }

  AtomicOutputDir dir(dst_dir, opt.overwrite);
  const std::string tmp = dir.temp_dir();
  write_safetensors(tmp + "/model.safetensors", out, {{"format", "pt"}}, false);
  nlohmann::json config = {{"architectures", {"BertModel"}},
                           {"model_type", "bert"},
                           {"hidden_act", "gelu"},
                           {"vocab_size", c.vocab_size},
                           {"hidden_size", c.hidden_size},
                           {"num_hidden_layers", c.num_hidden_layers},
                           {"num_attention_heads", c.num_attention_heads},
                           {"intermediate_size", c.intermediate_size},
                           {"max_position_embeddings", c.max_position_embeddings},
                           {"type_vocab_size", c.type_vocab_size},
                           {"layer_norm_eps", c.layer_norm_eps},
                           {"position_embedding_type", "absolute"},
                           {"pad_token_id", vocab.pad_id >= 0 ? vocab.pad_id : 0}};
  if (const GgufValue* n = g->find_kv("general.name"); n && n->type == GgufType::STRING) config["_name_or_path"] = n->s;
  write_text(tmp + "/config.json", config.dump(2) + "\n");
  std::string txt;
  for (const std::string& t : vocab.tokens) txt += t + "\n";
  write_text(tmp + "/vocab.txt", txt);
  nlohmann::json tc = {{"tokenizer_class", "BertTokenizer"},
                       {"do_lower_case", vocab.settings.lowercase},
                       {"strip_accents", vocab.settings.strips_accents()},
                       {"tokenize_chinese_chars", vocab.settings.tokenize_chinese_chars},
                       {"model_max_length", c.max_position_embeddings},
                       {"unk_token", vocab.tokens[static_cast<size_t>(vocab.unk_id)]},
                       {"cls_token", vocab.tokens[static_cast<size_t>(vocab.cls_id)]},
                       {"sep_token", vocab.tokens[static_cast<size_t>(vocab.sep_id)]}};
  if (vocab.pad_id >= 0) tc["pad_token"] = vocab.tokens[static_cast<size_t>(vocab.pad_id)];
  if (vocab.mask_id >= 0) tc["mask_token"] = vocab.tokens[static_cast<size_t>(vocab.mask_id)];
  write_text(tmp + "/tokenizer_config.json", tc.dump(2) + "\n");
  if (pooling && *pooling != Pooling::None) {
    const nlohmann::json modules = nlohmann::json::array(
        {{{"idx", 0}, {"name", "0"}, {"path", ""}, {"type", "sentence_transformers.models.Transformer"}},
         {{"idx", 1}, {"name", "1"}, {"path", "1_Pooling"}, {"type", "sentence_transformers.models.Pooling"}}});
    write_text(tmp + "/modules.json", modules.dump(2) + "\n");
    std::filesystem::create_directories(tmp + "/1_Pooling");
    const nlohmann::json p = {{"word_embedding_dimension", c.hidden_size},
                              {"pooling_mode_cls_token", *pooling == Pooling::Cls},
                              {"pooling_mode_mean_tokens", *pooling == Pooling::Mean},
                              {"pooling_mode_max_tokens", false},
                              {"pooling_mode_mean_sqrt_len_tokens", false},
                              {"pooling_mode_weightedmean_tokens", false},
                              {"pooling_mode_lasttoken", *pooling == Pooling::Last}};
    write_text(tmp + "/1_Pooling/config.json", p.dump(2) + "\n");
  }
  dir.commit();
  return make_report(dst_dir, out.size(), bytes, start);
}

}  // namespace lmforge
