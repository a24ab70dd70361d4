// An ONNX model file as a TensorSource: every dense weight (graph initializers, Constant
// nodes, subgraphs) with its values inline or in external data files.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/onnx/onnx_proto.h"

namespace lmforge {

class OnnxSource final : public TensorSource {
 public:
  // Parses the model and opens and bounds-checks every external data file it names, so that
  // a bad location or range fails here, before any output is written.
  static std::unique_ptr<OnnxSource> open(const std::string& path);

  std::string format_description() const override;
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  TensorBytes read(size_t index) const override;
  nlohmann::json metadata() const override;
  std::vector<std::string> warnings() const override { return model_.warnings; }

  const onnx::OnnxModel& model() const { return model_; }
  const std::string& path() const { return path_; }
  // The metadata_props value for `key`, or nullptr.
  const std::string* metadata_value(const std::string& key) const;

 private:
  OnnxSource() = default;

  std::string path_;
  std::shared_ptr<const MappedFile> file_;
  onnx::OnnxModel model_;
  std::vector<TensorInfo> infos_;
  std::vector<std::shared_ptr<const MappedFile>> external_;  // per tensor, null when inline
};

}  // namespace lmforge
