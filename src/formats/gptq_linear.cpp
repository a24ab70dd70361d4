#include "formats/gptq_linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/text_checks.h"
#include "quant/gptq_packing.h"
#include "quant/type_traits.h"

namespace lmforge {

namespace {

class LinearTensors {
 public:
  LinearTensors(const TensorSource& src, const std::string& prefix, const std::string& where)
      : src_(src), prefix_(prefix), where_(where) {}

  // Index of prefix.suffix, or -1 when absent.
  ptrdiff_t find(const std::string& suffix) const { return src_.find(prefix_ + "." + suffix); }

  const TensorInfo& info(ptrdiff_t i) const { return src_.tensors()[static_cast<size_t>(i)]; }

  [[noreturn]] void bad(ptrdiff_t i, const std::string& what) const {
    const TensorInfo& t = info(i);
    fail(t.file.empty() ? where_ : t.file, "GPTQ tensor " + quoted_for_message(t.name) + " " + what, t.offset);
  }

  // The tensor's bytes after checking its dtype and shape.
  TensorBytes read(ptrdiff_t i, std::initializer_list<DType> dtypes, const std::vector<uint64_t>& shape,
                   const std::string& why) const {
    const TensorInfo& t = info(i);
    bool ok = false;
    std::string names;
    for (DType d : dtypes) {
      ok = ok || t.dtype == d;
      names += (names.empty() ? "" : " or ") + std::string(dtype_name(d));
    }
    if (!ok) bad(i, "has dtype " + std::string(dtype_name(t.dtype)) + ", expected " + names);
    if (t.shape != shape) bad(i, "has shape " + shape_text(t.shape) + ", expected " + shape_text(shape) + " " + why);
    TensorBytes b = src_.read(static_cast<size_t>(i));
    const auto want = dtype_nbytes(t.dtype, t.numel());
    if (!want || b.size() != *want) bad(i, "holds " + std::to_string(b.size()) + " bytes, which does not match its shape");
    return b;
  }

  ptrdiff_t require(const std::string& suffix) const {
    const ptrdiff_t i = find(suffix);
    if (i < 0) fail(where_, "GPTQ tensor " + quoted_for_message(prefix_ + "." + suffix) + " is missing");
    return i;
  }

 private:
  const TensorSource& src_;
  const std::string& prefix_;
  const std::string& where_;
};

std::vector<uint32_t> words_of(const TensorBytes& b) {
  std::vector<uint32_t> w(b.size() / 4);
  if (!w.empty()) std::memcpy(w.data(), b.data(), w.size() * 4);
  return w;
}

}  // namespace

bool has_gptq_linear(const TensorSource& src, const std::string& prefix) { return src.find(prefix + ".qweight") >= 0; }

GptqMatrix read_gptq_linear(const TensorSource& src, const std::string& prefix, uint64_t out, uint64_t in,
                            const GptqConfig& cfg, const std::string& where) {
  const LinearTensors t(src, prefix, where);
  const int bits = cfg.bits;
  const std::string b = std::to_string(bits) + "-bit";
  const ptrdiff_t iq = t.require("qweight");
  if (!gptq_packs_evenly(in, bits))
    t.bad(iq, "cannot hold " + std::to_string(in) + " inputs of " + b + " codes in whole 32-bit words (" + cfg.file + " says " + b + ")");
  if (!gptq_packs_evenly(out, bits))
    t.bad(t.require("qzeros"), "cannot hold " + std::to_string(out) + " " + b + " zero points in whole 32-bit words");
  const uint64_t gs = cfg.group_size_for(in);
  const uint64_t groups = (in + gs - 1) / gs;
  const std::string from_cfg = "for " + b + " codes of " + std::to_string(in) + " inputs x " + std::to_string(out) +
                               " outputs, group size " + std::to_string(gs) + " (" + cfg.file + ")";

  GptqMatrix m;
  m.out = out;
  m.in = in;
  m.bits = bits;
  m.groups = static_cast<uint32_t>(groups);

  // Codes: qweight [in * bits / 32, out], packed down the columns.
  {
    const TensorBytes qw = t.read(iq, {DType::I32, DType::U32}, {gptq_packed_words(in, bits), out}, from_cfg);
    const std::vector<uint32_t> words = words_of(qw);
    m.codes.resize(in * out);
    if (32 % bits == 0) {
      // 2, 4, 8 bits: no code crosses a word; unpack and transpose in one pass (the load of a
      // 1B-parameter folder spends most of its time here).
      const uint64_t per = 32 / static_cast<uint64_t>(bits);
      const uint32_t mask = (1u << bits) - 1;
      for (uint64_t w = 0; w < in / per; ++w) {
        const uint32_t* row = words.data() + w * out;
        for (uint64_t n = 0; n < out; ++n) {
          uint8_t* dst = m.codes.data() + n * in + w * per;
          for (uint64_t j = 0; j < per; ++j) dst[j] = static_cast<uint8_t>((row[n] >> (bits * j)) & mask);
        }
      }
    } else {
      std::vector<uint8_t> kn(in * out);
      gptq_unpack_columns(words.data(), in, out, bits, kn.data());
      for (uint64_t k = 0; k < in; ++k)
        for (uint64_t n = 0; n < out; ++n) m.codes[n * in + k] = kn[k * out + n];
    }
  }
  // Zero points: qzeros [groups, out * bits / 32], packed along the rows.
  {
    const ptrdiff_t iz = t.require("qzeros");
    const TensorBytes qz = t.read(iz, {DType::I32, DType::U32}, {groups, gptq_packed_words(out, bits)}, from_cfg);
    const std::vector<uint32_t> words = words_of(qz);
    std::vector<uint8_t> fields(groups * out);
    gptq_unpack_rows(words.data(), groups, out, bits, fields.data());
    // A symmetric checkpoint stores one zero point, 2^(bits-1): as 2^(bits-1) - 1 in v1 and as
    // is in v2. Every field holding the other format's value means a mislabelled checkpoint
    // (seen in the wild: v2 zeros under "gptq"), which would shift every weight by one scale.
    if (cfg.sym && !fields.empty()) {
      const int half = 1 << (bits - 1), wrong = cfg.v2 ? half - 1 : half;
      if (std::all_of(fields.begin(), fields.end(), [&](uint8_t f) { return f == wrong; }))
        t.bad(iz, "stores every zero point as " + std::to_string(wrong) + ", which is the " + (cfg.v2 ? "v1 (gptq)" : "gptq_v2") +
                      " form of a symmetric " + b + " checkpoint, but " + cfg.file + " says " + cfg.checkpoint_format +
                      "; set \"checkpoint_format\": \"" + (cfg.v2 ? "gptq" : "gptq_v2") + "\" there if the file is right");
    }
    m.zeros.resize(fields.size());
    for (size_t i = 0; i < fields.size(); ++i)
      m.zeros[i] = static_cast<uint16_t>(cfg.v2 ? int{fields[i]} : gptq_v1_zero_from_field(fields[i]));
  }
  // Scales [groups, out], finite.
  {
    const ptrdiff_t is = t.require("scales");
    const TensorBytes sc = t.read(is, {DType::F16, DType::BF16, DType::F32}, {groups, out}, from_cfg);
    m.scales.resize(groups * out);
    decode_row(t.info(is).dtype, sc.data(), m.scales.data(), m.scales.size());
    for (size_t i = 0; i < m.scales.size(); ++i)
      if (!std::isfinite(m.scales[i]))
        t.bad(is, "has a NaN or infinite scale at group " + std::to_string(i / out) + ", output " + std::to_string(i % out));
  }
  // Groups of the inputs: g_idx [in] (absent: consecutive groups), every group within its size.
  m.g_idx.resize(in);
  if (const ptrdiff_t ig = t.find("g_idx"); ig >= 0) {
    const TensorBytes gb = t.read(ig, {DType::I32, DType::I64}, {in}, "(one group index per input)");
    const bool wide = t.info(ig).dtype == DType::I64;
    std::vector<uint64_t> count(groups, 0);
    for (uint64_t k = 0; k < in; ++k) {
      int64_t g;
      if (wide) {
        std::memcpy(&g, gb.data() + k * 8, 8);
      } else {
        int32_t g32;
        std::memcpy(&g32, gb.data() + k * 4, 4);
        g = g32;
      }
      if (g < 0 || static_cast<uint64_t>(g) >= groups)
        t.bad(ig, "gives input " + std::to_string(k) + " group " + std::to_string(g) + ", but there are " + std::to_string(groups) + " groups");
      if (++count[static_cast<size_t>(g)] > gs)
        t.bad(ig, "puts more than " + std::to_string(gs) + " inputs (the group size) into group " + std::to_string(g));
      m.g_idx[k] = static_cast<uint32_t>(g);
    }
  } else {
    for (uint64_t k = 0; k < in; ++k) m.g_idx[k] = static_cast<uint32_t>(k / gs);
  }
  // Bias: llama linears have none; an all-zero one (old GPTQ-for-LLaMa files) is harmless.
  if (const ptrdiff_t ib = t.find("bias"); ib >= 0) {
    const TensorBytes bb = t.read(ib, {DType::F16, DType::BF16, DType::F32}, {out}, "(one per output)");
    std::vector<float> bias(out);
    decode_row(t.info(ib).dtype, bb.data(), bias.data(), out);
    for (uint64_t n = 0; n < out; ++n)
      if (bias[n] != 0.0f) t.bad(ib, "is not zero at output " + std::to_string(n) + "; llama linears have no bias and lmforge does not add one");
  }
  return m;
}

}  // namespace lmforge

namespace lmforge {

std::optional<std::string> gptq_tensor_module(const std::string& name) {
  for (const char* suffix : {".qweight", ".qzeros", ".scales", ".g_idx"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
      return name.substr(0, name.size() - s.size());
  }
  return std::nullopt;
}

}  // namespace lmforge
