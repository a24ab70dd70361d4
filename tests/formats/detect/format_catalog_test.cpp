#include "formats/detect/format_catalog.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace lmforge {
namespace {

TEST(FormatCatalog, EveryRecognisedFormatIsListed) {
  std::set<FileFormat> listed;
  for (const auto& f : format_catalog())
    for (auto s : f.sniffed_as) listed.insert(s);
  for (int i = 0; i < static_cast<int>(FileFormat::kUnknown); ++i) {
    const auto f = static_cast<FileFormat>(i);
    EXPECT_TRUE(listed.count(f)) << "sniffer result " << file_format_name(f) << " has no entry in the catalog";
  }
}

TEST(FormatCatalog, EntriesAreCompleteAndUnique) {
  std::set<std::string> ids;
  for (const auto& f : format_catalog()) {
    EXPECT_TRUE(ids.insert(std::string(f.id)).second) << f.id;
    EXPECT_FALSE(f.name.empty()) << f.id;
    EXPECT_FALSE(f.defined_by.empty()) << f.id;
    EXPECT_FALSE(f.structure.empty()) << f.id;
    EXPECT_FALSE(f.holds.empty()) << f.id;
    EXPECT_FALSE(f.code_note.empty()) << f.id;
    // An entry that claims an output names the convert option that writes it, and vice versa.
    if (!f.convert_to.empty()) {
      EXPECT_FALSE(f.writes.empty()) << f.id;
    }
  }
}

TEST(FormatCatalog, ConvertTargetsAreTheOutputsTheConverterWrites) {
  std::set<std::string> targets;
  for (auto t : convert_targets()) EXPECT_TRUE(targets.insert(std::string(t)).second) << "duplicate --to " << t;
  EXPECT_EQ(targets, (std::set<std::string>{"gguf", "ggml", "safetensors", "hf", "onnx"}));
}

TEST(FormatCatalog, PickleFormatsSayTheyCanRunCode) {
  // The misconceptions the catalog exists to correct: pickle-based files can run code when
  // loaded with torch.load; GGUF and safetensors cannot.
  for (const auto& f : format_catalog()) {
    const std::string id(f.id);
    if (id == "pytorch-zip" || id == "pytorch-legacy" || id == "meta-folder" || id == "training-checkpoint") {
      EXPECT_EQ(f.code, CodeExecution::kByDesign) << id;
    }
    if (id == "gguf" || id == "safetensors" || id == "ggml-legacy" || id == "tf-checkpoint") {
      EXPECT_EQ(f.code, CodeExecution::kNo) << id;
    }
  }
}

}  // namespace
}  // namespace lmforge
