#include "formats/ggml_legacy/ggjt_writer.h"

#include "core/atomic_output.h"
#include "core/error.h"
#include "quant/type_traits.h"

namespace lmforge {

namespace {

using namespace ggml_legacy;

class Out {
 public:
  explicit Out(AtomicOutputFile& f) : f_(f) {}
  void u32(uint32_t v) { f_.write(&v, 4); }
  void i32(int32_t v) { f_.write(&v, 4); }
  void f32(float v) { f_.write(&v, 4); }
  void bytes(const std::string& s) { f_.write(s.data(), s.size()); }

 private:
  AtomicOutputFile& f_;
};

}  // namespace

bool ggjt_v3_holds(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::Q4_0 || t == DType::Q4_1 || t == DType::Q8_0;
}

int32_t ggjt_ftype_of(DType t) { return static_cast<int32_t>(llama_ftype(t).value_or(1)); }

void write_ggjt_v3_file(const std::string& dst, bool overwrite, const Hparams& hp, const std::vector<GgjtVocabEntry>& vocab,
                        const std::vector<GgjtTensor>& tensors) {
  AtomicOutputFile file(dst, overwrite);
  Out out(file);
  out.u32(kMagicGgjt);
  out.u32(3);
  for (int32_t v : {hp.n_vocab, hp.n_embd, hp.n_mult, hp.n_head, hp.n_layer, hp.n_rot, hp.ftype}) out.i32(v);
  for (const auto& e : vocab) {
    out.u32(static_cast<uint32_t>(e.text.size()));
    out.bytes(e.text);
    out.f32(e.score);
  }
  for (const auto& t : tensors) {
    if (!ggjt_v3_holds(t.type)) fail(dst, "tensor " + t.name + " has a type ggjt v3 cannot hold");
    out.i32(static_cast<int32_t>(t.shape.size()));
    out.i32(static_cast<int32_t>(t.name.size()));
    out.i32(dtype_info(t.type).ggml_id);
    for (size_t d = t.shape.size(); d-- > 0;) out.i32(static_cast<int32_t>(t.shape[d]));  // innermost first
    out.bytes(t.name);
    file.write_zeros((kGgjtAlignment - file.position() % kGgjtAlignment) % kGgjtAlignment);
    file.write_tensor(t.produce());
  }
  file.commit();
}

}  // namespace lmforge
