// The tokenizer every model-facing layer uses: text to token ids and back, whatever the
// vocabulary's kind (SentencePiece BPE for the LLaMA 1/2 family, byte-level BPE for Llama 3,
// Qwen2, SmolLM, GPT-2). generate/, serve/, engine/ and cli/ see only this type; each kind
// lives in its own files (spm_tokenizer, bpe_tokenizer) and load_tokenizer picks one.
//
// What is shared lives here: the BOS/EOS ids and whether the model wants BOS, the ids that end
// a generation (EOG: EOS and the end-of-turn markers), and special-token parsing. With
// parse_special, text that spells a control or user-defined token becomes that token and the
// text between such tokens is encoded one fragment at a time (llama.cpp's parse_special);
// without it, control-token text typed by a user is ordinary text.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace lmforge {

class GgufReader;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // GGUF's tokenizer.ggml.model for this kind: "llama" (SentencePiece) or "gpt2" (byte-level BPE).
  virtual std::string_view kind() const = 0;
  // Words for messages and `inspect`: "SentencePiece BPE", "byte-level BPE (llama-bpe)".
  virtual std::string description() const = 0;
  virtual size_t size() const = 0;

  // Token ids of `text`. BOS/EOS are added only when asked and the vocabulary has them.
  std::vector<int32_t> encode(std::string_view text, bool add_bos = false, bool add_eos = false,
                              bool parse_special = false) const;

  // Text of a sequence of ids. Throws lmforge::Error for an id outside the vocabulary.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  // The vocabulary's own string for `id` ("▁the", "Ġthe", "<s>"). Throws for a bad id.
  virtual const std::string& piece(int32_t id) const = 0;
  // What one token shows on its own, as llama.cpp's token_to_piece renders it (raw bytes for
  // byte-level pieces, control tokens as their text).
  virtual std::string token_text(int32_t id) const = 0;
  // The id whose vocabulary string is `piece`; the unknown id (or -1 when there is none).
  virtual int32_t piece_to_id(std::string_view piece) const = 0;
  virtual TokenType token_type(int32_t id) const = 0;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  bool add_bos() const { return add_bos_ && bos_id_ >= 0; }  // what prompts get by default
  bool add_eos() const { return add_eos_ && eos_id_ >= 0; }
  // Ids that end generation: EOS first, then end-of-turn markers the vocabulary names.
  const std::vector<int32_t>& eog_ids() const { return eog_ids_; }
  bool is_eog(int32_t id) const;

  // The id of `text` when it is one control or user-defined token, else -1.
  int32_t special_token_id(std::string_view text) const;

 protected:
  // Ordinary text to ids: no BOS/EOS, control-token text not recognised.
  virtual std::vector<int32_t> encode_text(std::string_view text) const = 0;
  // Called by the derived constructor once its vocabulary is in place: records the special
  // ids and collects the tokens parse_special looks for.
  void set_specials(int32_t bos, int32_t eos, bool add_bos, bool add_eos, std::vector<int32_t> eog);

 private:
  std::vector<int32_t> encode_with_specials(std::string_view text) const;

  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  std::vector<int32_t> eog_ids_;
  std::vector<int32_t> specials_;  // control and user-defined tokens, longest text first
};

// `path` is a GGUF file, a model folder (tokenizer.model, else tokenizer.json) or a
// tokenizer.model / tokenizer.json file; the kind follows tokenizer.ggml.model or the files.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// From a GGUF file's tokenizer.ggml.* keys, by tokenizer.ggml.model.
std::unique_ptr<Tokenizer> tokenizer_from_gguf(const GgufReader& gguf, const std::string& file);

}  // namespace lmforge
