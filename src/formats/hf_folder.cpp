#include "formats/hf_folder.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/mapped_file.h"
#include "formats/gptq_config.h"
#include "formats/json_strict.h"
#include "formats/pytorch_reader.h"
#include "formats/safetensors_reader.h"
#include "formats/sharded_source.h"
#include "core/text_checks.h"

namespace lmforge {

namespace fs = std::filesystem;

namespace {

std::string join(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);  // follows symlinks (the HF cache links into blobs/)
}

std::unique_ptr<TensorSource> open_weight_file(const std::string& path) {
  if (path.ends_with(".safetensors")) return open_safetensors(path);
  return open_pytorch_checkpoint(path);
}

// An index maps tensor names to shard files in the same folder; a name with a path in it
// could make us read any file on the system.
void check_shard_name(const std::string& index_path, const std::string& tensor,
                      const std::string& shard, const std::string& ext) {
  if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
      shard.find('\\') != std::string::npos || has_control_char(shard))
    fail(index_path, "weight_map entry for tensor '" + tensor + "' names " +
                         quoted_for_message(shard) + ", which is not a plain file name");
  if (!shard.ends_with(ext))
    fail(index_path, "weight_map entry for tensor '" + tensor + "' names '" + shard +
                         "', which is not a " + ext + " file");
}

// The weight files transformers looks for, in its order of preference, with the shard
// extension of an index.
constexpr const char* kWeightFiles[][2] = {{"model.safetensors", nullptr},
                                           {"model.safetensors.index.json", ".safetensors"},
                                           {"pytorch_model.bin", nullptr},
                                           {"pytorch_model.bin.index.json", ".bin"}};

struct Weights {
  std::unique_ptr<TensorSource> source;
  std::vector<std::string> files;
};

Weights open_index(const std::string& dir, const std::string& index_name, const std::string& ext,
                   std::vector<std::string>& warnings) {
  const std::string index_path = join(dir, index_name);
  const auto index = read_json_file(index_path, 256u << 20);
  if (!index.is_object()) fail(index_path, "index is not a JSON object");
  if (!index.contains("weight_map") || !index["weight_map"].is_object())
    fail(index_path, "index has no 'weight_map' object");

  std::map<std::string, std::string> weight_map;  // tensor -> shard
  std::set<std::string> shard_names;
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string())
      fail(index_path, "weight_map entry for tensor '" + tensor + "' is not a string");
    const auto& s = shard.get_ref<const std::string&>();
    check_shard_name(index_path, tensor, s, ext);
    weight_map[tensor] = s;
    shard_names.insert(s);
  }
  if (weight_map.empty()) fail(index_path, "weight_map is empty");

  std::optional<uint64_t> total_size;
  if (index.contains("metadata") && !index["metadata"].is_null()) {
    const auto& m = index["metadata"];
    if (!m.is_object()) fail(index_path, "index 'metadata' is not an object");
    if (m.contains("total_size")) {
      // transformers has written total_size both as an integer and as a float.
      if (m["total_size"].is_number_unsigned())
        total_size = m["total_size"].get<uint64_t>();
      else if (!m["total_size"].is_null())
        warnings.push_back(index_name + ": total_size is not a non-negative integer");
    }
  }

  Weights w;
  std::vector<std::unique_ptr<TensorSource>> shards;
  for (const auto& s : shard_names) {
    const std::string path = join(dir, s);
    if (!is_file(path)) fail(index_path, "shard '" + s + "' listed in the index does not exist");
    shards.push_back(open_weight_file(path));
    w.files.push_back(s);
  }
  w.files.push_back(index_name);
  w.source = make_sharded_source(std::move(shards), "Hugging Face sharded checkpoint (" +
                                                        std::to_string(shard_names.size()) + " " +
                                                        ext + " shards)");

  // The index and the shards must agree exactly, as transformers and llama.cpp's converter
  // require: a tensor the index does not list, or lists in another shard, means the files
  // do not belong together.
  uint64_t sum = 0;
  std::set<std::string> found;
  for (const auto& t : w.source->tensors()) {
    const std::string shard = fs::path(t.file).filename().string();
    auto it = weight_map.find(t.name);
    if (it == weight_map.end())
      fail(t.file, "tensor '" + t.name + "' is not listed in " + index_name);
    if (it->second != shard)
      fail(t.file, "tensor '" + t.name + "' is in '" + shard + "' but " + index_name +
                       " lists it in '" + it->second + "'");
    found.insert(t.name);
    sum += t.nbytes;
  }
  for (const auto& [tensor, shard] : weight_map)
    if (!found.count(tensor))
      fail(join(dir, shard),
           "tensor '" + tensor + "' listed in " + index_name + " is missing from this shard");
  if (total_size && *total_size != sum)
    warnings.push_back(index_name + ": total_size " + std::to_string(*total_size) +
                       " differs from the " + std::to_string(sum) +
                       " bytes of tensor data in the shards");
  return w;
}

Weights open_weights(const std::string& dir, std::vector<std::string>& warnings) {
  for (const auto& c : kWeightFiles) {
    if (!is_file(join(dir, c[0]))) continue;
    if (c[1]) return open_index(dir, c[0], c[1], warnings);
    Weights w;
    w.source = open_weight_file(join(dir, c[0]));
    w.files.push_back(c[0]);
    return w;
  }
  if (const auto gptq = autogptq_weight_file(dir)) {  // AutoGPTQ's single file
    Weights w;
    w.source = open_weight_file(join(dir, *gptq));
    w.files.push_back(*gptq);
    return w;
  }
  fail(dir,
       "no weights found (expected model.safetensors, model.safetensors.index.json, "
       "pytorch_model.bin or pytorch_model.bin.index.json)");
}

nlohmann::json optional_json(const std::string& dir, const std::string& name,
                             std::vector<std::string>& used) {
  const std::string path = join(dir, name);
  if (!is_file(path)) return nullptr;
  used.push_back(name);
  return read_json_file(path, 64u << 20);
}

// Files a model folder commonly has that carry no model data: not worth a warning.
bool is_documentation(const std::string& name) {
  auto starts = [&](const char* p) { return name.starts_with(p); };
  return name.starts_with(".") || name.ends_with(".md") || starts("README") || starts("LICENSE") ||
         starts("NOTICE") || starts("USE_POLICY") ||
         // The fast-tokenizer file duplicates tokenizer.model for SentencePiece llamas.
         name == "tokenizer.json";
}

}  // namespace

bool hf_folder_has_weights(const std::string& dir) {
  for (const auto& c : kWeightFiles)
    if (is_file(join(dir, c[0]))) return true;
  return autogptq_weight_file(dir).has_value();
}

void read_hf_tokenizer_files(const std::string& dir, HfModel& m) {
  const std::string tok_path = join(dir, "tokenizer.model");
  if (is_file(tok_path)) {
    auto map = MappedFile::open(tok_path);
    m.tokenizer = parse_sentencepiece_model(map->bytes(), tok_path);
    m.files_used.push_back("tokenizer.model");
  }
  m.tokenizer_config = optional_json(dir, "tokenizer_config.json", m.files_used);
  m.special_tokens_map = optional_json(dir, "special_tokens_map.json", m.files_used);
  m.added_tokens = optional_json(dir, "added_tokens.json", m.files_used);
  m.generation_config = optional_json(dir, "generation_config.json", m.files_used);
}

HfModel open_hf_folder(const std::string& dir, const HfFolderChecks& checks) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir, "is not a directory");

  HfModel m;
  m.dir = dir;
  const std::string config_path = join(dir, "config.json");
  if (!is_file(config_path)) fail(dir, "no config.json in this folder");
  m.config_json = read_json_file(config_path, 16u << 20);
  if (checks.config) checks.config(m.config_json, config_path);
  m.files_used.push_back("config.json");

  auto w = open_weights(dir, m.warnings);
  m.weights = std::move(w.source);
  for (auto& f : w.files) m.files_used.push_back(std::move(f));
  for (auto& x : m.weights->warnings()) m.warnings.push_back(std::move(x));
  if (checks.tensors)
    for (auto& x : checks.tensors(m.weights->tensors())) m.warnings.push_back(std::move(x));

  read_hf_tokenizer_files(dir, m);

  // Anything else in the folder is reported: a weight file we did not read can mean the
  // user expected a different checkpoint to be converted.
  const std::set<std::string> used(m.files_used.begin(), m.files_used.end());
  std::vector<std::string> unused;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (used.count(name) || is_documentation(name)) continue;
    std::error_code ec2;
    unused.push_back(e.is_directory(ec2) ? name + "/" : name);
  }
  std::sort(unused.begin(), unused.end());
  for (const auto& u : unused) m.warnings.push_back("unused file " + quoted_for_message(u));
  return m;
}

}  // namespace lmforge
