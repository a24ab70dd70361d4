// A BERT folder (Hugging Face BertModel, see arch/bert) -> GGUF with architecture "bert" as
// llama.cpp's converter (convert_hf_to_gguf.py, BertModel) writes it, so that llama.cpp embeds
// the file:
//  - tensors from arch/bert's table (token_embd, position_embd, token_types, token_embd_norm,
//    blk.N.{attn_q,attn_k,attn_v,attn_output,attn_output_norm,ffn_up,ffn_down,
//    layer_output_norm}, weights and biases; pooler and MLM head dropped); matrices in the
//    output type (F16 by default, or F32); 1-D tensors and the position and token-type tables
//    F32, as the converter keeps them;
//  - bert.{context_length, embedding_length, feed_forward_length, block_count,
//    attention.head_count, attention.layer_norm_epsilon}, bert.attention.causal = false,
//    bert.pooling_type when the folder has a sentence-transformers Pooling module (without one
//    llama.cpp pools nothing, as for the converter's output), tokenizer.ggml.token_type_count;
//  - the vocabulary as llama.cpp stores it: tokenizer.ggml.model "bert", every token "▁"-prefixed
//    except "##x" (stored as "x") and control tokens (kept), token types (added special
//    tokens CONTROL, other added tokens USER_DEFINED, the rest NORMAL, [PAD{i}] UNUSED fillers
//    up to the config's vocab_size), [CLS] as BOS and cls, [SEP] as EOS and separator, unk,
//    pad and mask ids.
// Departures, on purpose: tokenizer.ggml.pre is "default" (the converter names the
// pre-tokenizer by hashing a test string through transformers, which llama.cpp ignores for
// WordPiece vocabularies, and refuses tokenizers it has no hash for); the lower-casing and
// accent-stripping flags (tokenizer.ggml.normalizer.*) are always written from the folder's
// resolved settings, where the converter writes them only from a tokenizer.json and so leaves a
// cased vocab.txt-only model to llama.cpp's default of lower-casing.
#pragma once

#include <string>

#include "convert/convert_options.h"

namespace lmforge {

// Writes the folder at `dst`; opt.outtype: F32 or F16 (unset: F16). Every tensor is checked
// (names, shapes, types) before anything is written.
ConvertReport write_bert_gguf(const std::string& folder, const std::string& dst, const ConvertOptions& opt);

}  // namespace lmforge
