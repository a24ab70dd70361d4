#include "gptq/folder_writer.h"

#include <fstream>
#include <optional>

#include "arch/llama/llama_config_json.h"
#include "arch/llama/llama_names.h"
#include "convert/gguf_vocab.h"
#include "core/atomic_output.h"
#include "core/error.h"
#include "core/half.h"
#include "engine/model_loader.h"
#include "formats/gguf/gguf_reader.h"
#include "formats/safetensors_writer.h"
#include "formats/sentencepiece_model_writer.h"
#include "kernels/matmul_ref.h"
#include "quant/gptq_packing.h"

namespace lmforge {

namespace {

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f.good()) fail(path, "cannot write file");
}

TensorBytes f16_bytes(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = fp32_to_fp16(v[i]);
  return tensor_bytes_of(h);
}

TensorBytes f16_matrix(const MatrixView& m) {
  std::vector<float> row(m.cols);
  std::vector<uint16_t> h(m.rows * m.cols);
  for (uint64_t r = 0; r < m.rows; ++r) {
    matrix_row_ref(m, r, row.data());
    for (uint64_t c = 0; c < m.cols; ++c) h[r * m.cols + c] = fp32_to_fp16(row[c]);
  }
  return tensor_bytes_of(h);
}

TensorInfo info(std::string name, DType t, std::vector<uint64_t> shape) {
  TensorInfo i;
  i.name = std::move(name);
  i.dtype = t;
  i.shape = std::move(shape);
  i.nbytes = *dtype_nbytes(t, i.numel());
  return i;
}

// The quantized layers in file order, one held at a time.
struct LayerCursor {
  ModelQuantizer& quantizer;
  const std::function<void(const QuantizedLayer&)>& on_layer;
  std::optional<QuantizedLayer> current;
  const QuantizedLayer& get(uint32_t l) {
    while (!current || current->index != l) {
      current.reset();
      current = quantizer.next_layer();
      on_layer(*current);
    }
    return *current;
  }
};

// The source row (GGUF order) of Hugging Face output row n of a linear.
uint64_t source_row(LinearSlot s, uint64_t n, uint64_t head_dim) {
  return s == kSlotQ || s == kSlotK ? gguf_row_for_hf_row(n, head_dim) : n;
}

}  // namespace

nlohmann::json gptq_quantize_config(const GptqSettings& s) {
  return {{"bits", s.bits},
          {"group_size", s.group_size},
          {"damp_percent", s.damp},
          {"desc_act", s.act_order},
          {"static_groups", false},
          {"sym", s.sym},
          {"true_sequential", true},
          {"model_name_or_path", nullptr},
          {"model_file_base_name", "model"},
          {"quant_method", "gptq"},
          {"checkpoint_format", "gptq"}};
}

GptqFolderSummary write_gptq_folder(const LoadedModel& loaded, ModelQuantizer& quantizer, const std::string& out_dir,
                                    const GptqFolderOptions& opt,
                                    const std::function<void(const QuantizedLayer&)>& on_layer) {
  const LlamaModel& model = *loaded.model;
  LlamaConfig c = model.config();
  const GptqSettings& s = opt.settings;
  if (!loaded.gguf) fail(model.path(), "no tokenizer to write");
  const HfTokenizerFiles tok = hf_tokenizer_from_gguf(*loaded.gguf);

  GptqFolderSummary summary;
  auto cursor = std::make_shared<LayerCursor>(LayerCursor{quantizer, on_layer, std::nullopt});
  std::vector<TensorToWrite> tensors;
  auto add = [&](TensorInfo i, std::function<TensorBytes()> produce) {
    summary.bytes += i.nbytes;
    tensors.push_back({std::move(i), std::move(produce)});
  };
  const int bits = s.bits;
  const uint64_t hd = c.head_dim;
  for (uint32_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (int si = 0; si < kSlotCount; ++si) {
      const LinearSlot slot = static_cast<LinearSlot>(si);
      // Plain names, not a structured binding: the lambdas below capture them (C++20 forbids
      // capturing bindings, and Clang enforces it).
      const std::pair<uint64_t, uint64_t> shape = linear_shape(c, slot);
      const uint64_t n_out = shape.first, k_in = shape.second;
      const uint64_t g = gptq_group_count(k_in, s.group_size);
      const std::string m = p + slot_hf_module(slot) + ".";
      add(info(m + "qweight", DType::I32, {gptq_packed_words(k_in, bits), n_out}), [=] {
        const QuantizedMatrix& q = cursor->get(l).linears[slot];
        std::vector<uint8_t> kn(k_in * n_out);  // codes transposed to [K][N], HF row order
        for (uint64_t n = 0; n < n_out; ++n) {
          const uint8_t* src = &q.codes[source_row(slot, n, hd) * k_in];
          for (uint64_t k = 0; k < k_in; ++k) kn[k * n_out + n] = src[k];
        }
        std::vector<uint32_t> packed(gptq_packed_words(k_in, bits) * n_out);
        gptq_pack_columns(kn.data(), k_in, n_out, bits, packed.data());
        return tensor_bytes_of(packed);
      });
      add(info(m + "qzeros", DType::I32, {g, gptq_packed_words(n_out, bits)}), [=, &summary] {
        const QuantizedMatrix& q = cursor->get(l).linears[slot];
        std::vector<uint8_t> z(g * n_out);
        for (uint64_t gi = 0; gi < g; ++gi)
          for (uint64_t n = 0; n < n_out; ++n) {
            const int zero = static_cast<int>(q.grids[gi * n_out + source_row(slot, n, hd)].zero);
            if (zero == 0) ++summary.unrepresentable_zeros;
            z[gi * n_out + n] = gptq_v1_stored_zero(zero, bits);
          }
        std::vector<uint32_t> packed(g * gptq_packed_words(n_out, bits));
        gptq_pack_rows(z.data(), g, n_out, bits, packed.data());
        return tensor_bytes_of(packed);
      });
      add(info(m + "scales", DType::F16, {g, n_out}), [=] {
        const QuantizedMatrix& q = cursor->get(l).linears[slot];
        std::vector<float> sc(g * n_out);
        for (uint64_t gi = 0; gi < g; ++gi)
          for (uint64_t n = 0; n < n_out; ++n) sc[gi * n_out + n] = q.grids[gi * n_out + source_row(slot, n, hd)].scale;
        return f16_bytes(sc);
      });
      add(info(m + "g_idx", DType::I32, {k_in}), [=] { return tensor_bytes_of(cursor->get(l).linears[slot].g_idx); });
    }
    add(info(p + "input_layernorm.weight", DType::F16, {c.hidden_size}), [=] { return f16_bytes(cursor->get(l).attn_norm); });
    add(info(p + "post_attention_layernorm.weight", DType::F16, {c.hidden_size}),
        [=] { return f16_bytes(cursor->get(l).ffn_norm); });
  }
  add(info("model.embed_tokens.weight", DType::F16, {model.tok_embd.m.rows, model.tok_embd.m.cols}),
      [&model] { return f16_matrix(model.tok_embd.m); });
  add(info("model.norm.weight", DType::F16, {c.hidden_size}), [&model] { return f16_bytes(model.output_norm); });
  c.tie_word_embeddings = model.tied_output;
  if (!model.tied_output)
    add(info("lm_head.weight", DType::F16, {model.output.m.rows, model.output.m.cols}),
        [&model] { return f16_matrix(model.output.m); });

  AtomicOutputDir dir(out_dir, opt.overwrite);
  const std::string tmp = dir.temp_dir();
  const std::map<std::string, std::string> meta = {
      {"format", "pt"},
      {"quantized_by", "lmforge gptq"},
      {"gptq_bits", std::to_string(s.bits)},
      {"gptq_group_size", std::to_string(s.group_size)},
      {"gptq_desc_act", s.act_order ? "true" : "false"},
      {"gptq_damp_percent", std::to_string(s.damp)},
      {"gptq_checkpoint_format", "gptq"},
      {"gptq_quant_method", opt.rtn ? "rtn" : "gptq"},
      {"gptq_calibration", std::to_string(opt.n_windows) + "x" + std::to_string(opt.seqlen)}};
  write_safetensors(tmp + "/model.safetensors", tensors, meta, false);

  c.torch_dtype = "float16";
  nlohmann::json config = llama_config_to_json(c);
  config["quantization_config"] = gptq_quantize_config(s);
  write_text_file(tmp + "/config.json", config.dump(2) + "\n");
  write_text_file(tmp + "/quantize_config.json", gptq_quantize_config(s).dump(2) + "\n");
  nlohmann::json gen = nlohmann::json::object();
  if (c.bos_token_id) gen["bos_token_id"] = *c.bos_token_id;
  if (c.eos_token_id) gen["eos_token_id"] = *c.eos_token_id;
  write_text_file(tmp + "/generation_config.json", gen.dump(2) + "\n");
  write_text_file(tmp + "/tokenizer_config.json", tok.tokenizer_config.dump(2) + "\n");
  write_text_file(tmp + "/special_tokens_map.json", tok.special_tokens_map.dump(2) + "\n");
  const auto sp = serialize_sentencepiece_model(tok.model);
  write_text_file(tmp + "/tokenizer.model", std::string(sp.begin(), sp.end()));
  dir.commit();
  return summary;
}

}  // namespace lmforge
