// libFuzzer harness: arbitrary bytes as a BERT folder's descriptions. The input is cut at
// "\n\x00\n" markers into config.json, modules.json, the Pooling module's config.json and a
// tensor list (a JSON object: name -> shape, dtype F32); each is parsed by the readers of
// arch/bert (config, sentence-transformers modules and pooling, the tensor table's name and
// shape checks). Only a clean lmforge::Error may come out.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "arch/bert/bert_config.h"
#include "arch/bert/bert_pooling.h"
#include "arch/bert/bert_tensors.h"
#include "core/error.h"
#include "formats/json_strict.h"
#include "marker_parts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  const auto config = lmforge::fuzz::next_marker_part(rest);
  const auto modules = lmforge::fuzz::next_marker_part(rest);
  const auto pooling = lmforge::fuzz::next_marker_part(rest);
  const auto tensors = lmforge::fuzz::next_marker_part(rest);
  uint32_t hidden = 64;
  try {
    if (config) {
      const lmforge::BertConfig c =
          lmforge::bert_config_from_json(lmforge::parse_json_strict(*config, "config.json", 0), "config.json");
      hidden = c.hidden_size;
      if (tensors && uint64_t{c.num_hidden_layers} * c.hidden_size < (1u << 16)) {
        const nlohmann::json t = lmforge::parse_json_strict(*tensors, "tensors", 0);
        std::vector<lmforge::TensorInfo> infos;
        if (t.is_object())
          for (const auto& [name, shape] : t.items()) {
            lmforge::TensorInfo info;
            info.name = name;
            if (shape.is_array())
              for (const auto& d : shape)
                if (d.is_number_unsigned()) info.shape.push_back(d.get<uint64_t>());
            infos.push_back(std::move(info));
          }
        volatile size_t sink = lmforge::map_bert_tensors(infos, c, "folder").source.size();
        (void)sink;
      }
    }
  } catch (const lmforge::Error&) {
  }
  try {
    if (modules) {
      volatile bool sink =
          lmforge::parse_bert_modules(lmforge::parse_json_strict(*modules, "modules.json", 0), "modules.json").has_pooling;
      (void)sink;
    }
  } catch (const lmforge::Error&) {
  }
  try {
    if (pooling) {
      volatile auto sink = lmforge::parse_bert_pooling_config(
          lmforge::parse_json_strict(*pooling, "1_Pooling/config.json", 0), "1_Pooling/config.json", hidden);
      (void)sink;
    }
  } catch (const lmforge::Error&) {
  }
  return 0;
}
