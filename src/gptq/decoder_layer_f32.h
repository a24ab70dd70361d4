// One llama decoder layer in float32 over a window of calibration tokens, in the pieces GPTQ's
// true-sequential order needs (the inputs of [q,k,v], [o], [gate,up] and [down] in turn):
//
//   xn  = rms(x) * attn_norm                         attn_input    -> input of q, k, v
//   a   = attention(RoPE(xn Wq^T), RoPE(xn Wk^T), xn Wv^T)   attention -> input of o
//   h   = x + a Wo^T                                 (the caller, gemm with beta = 1)
//   hn  = rms(h) * ffn_norm                          ffn_input     -> input of gate, up
//   s   = silu(hn Wgate^T) * (hn Wup^T)              swiglu        -> input of down
//   out = h + s Wdown^T                              (the caller)
//
// The same graph as the engine (GGUF row order, ggml's NORM RoPE on adjacent pairs, causal
// attention with grouped KV heads), computed with its kernels (rms_norm_f32, rope_*,
// attention_f32, swiglu_f32) and OpenBLAS products; float32 activations everywhere (no 8-bit
// activation quantization, unlike the engine's Q8_0/Q4_0 path). Positions are 0..T-1: each
// window is its own sequence.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "arch/llama/llama_config.h"

namespace lmforge {

class ThreadPool;

enum LinearSlot : int { kSlotQ, kSlotK, kSlotV, kSlotO, kSlotGate, kSlotUp, kSlotDown, kSlotCount };

// Weights of one layer as float32 [rows][cols] (rows = output features).
struct DecoderLayerF32 {
  std::vector<float> attn_norm, ffn_norm;
  std::array<std::vector<float>, kSlotCount> w;
};

// rows and cols of each linear for a config.
std::pair<uint64_t, uint64_t> linear_shape(const LlamaConfig& c, LinearSlot s);

class DecoderLayerForward {
 public:
  DecoderLayerForward(const LlamaConfig& c, uint32_t seqlen, ThreadPool& pool);

  // x, xn: [T][hidden]
  void attn_input(const float* x, const DecoderLayerF32& L, float* xn);
  // xn [T][hidden] -> a [T][n_head * head_dim]
  void attention(const float* xn, const DecoderLayerF32& L, float* a);
  // h, hn: [T][hidden]
  void ffn_input(const float* h, const DecoderLayerF32& L, float* hn);
  // hn [T][hidden] -> s [T][intermediate]
  void swiglu(const float* hn, const DecoderLayerF32& L, float* s);

 private:
  void rms_rows(const float* x, const float* w, float* out);

  LlamaConfig c_;
  uint32_t t_;
  ThreadPool& pool_;
  std::vector<float> q_, k_, v_, up_;
};

}  // namespace lmforge
