#include "convert/imatrix_for_quantize.h"

#include "core/error.h"

namespace lmforge {

QuantizeImportance importance_for_plan(const QuantizePlan& plan, const ImatrixData& data, const std::string& file) {
  QuantizeImportance out;
  for (const auto& t : plan.tensors) {
    if (t.to == t.from || t.shape.size() < 2) continue;  // copied or a vector: never looked up
    const auto it = data.entries.find(t.name);
    if (it == data.entries.end()) {
      out.without_weights.push_back(t.name);
      continue;
    }
    std::vector<float> w = imatrix_column_weights(it->second, data.legacy);
    const uint64_t row_len = t.shape.back();
    if (w.size() != row_len) {
      if (t.name == "token_embd.weight") {
        out.without_weights.push_back(t.name);
        continue;
      }
      fail(file, "the imatrix entry for " + t.name + " has " + std::to_string(w.size()) + " values but the tensor's rows have " +
                     std::to_string(row_len) + " (an importance matrix of another model?)");
    }
    out.by_tensor.emplace(t.name, std::move(w));
  }
  // llama-quantize copies at most 127 bytes of the strings into its override table.
  out.kvs.push_back({"quantize.imatrix.file", GgufValue::str(file.substr(0, 127))});
  if (!data.datasets.empty()) out.kvs.push_back({"quantize.imatrix.dataset", GgufValue::str(data.datasets.front().substr(0, 127))});
  out.kvs.push_back({"quantize.imatrix.entries_count", GgufValue::u32(static_cast<uint32_t>(data.entries.size()))});
  if (data.chunk_count > 0) out.kvs.push_back({"quantize.imatrix.chunks_count", GgufValue::u32(data.chunk_count)});
  return out;
}

}  // namespace lmforge
