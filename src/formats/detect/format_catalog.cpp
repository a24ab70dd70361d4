#include "formats/detect/format_catalog.h"

namespace lmforge {

std::string_view code_execution_text(CodeExecution c) {
  switch (c) {
    case CodeExecution::kNo: return "no";
    case CodeExecution::kByDesign: return "yes (pickle)";
    case CodeExecution::kWhenRun: return "when run (graph ops)";
  }
  return "?";
}

std::string contents_text(unsigned contents) {
  const std::pair<unsigned, const char*> names[] = {{kWeights, "weights"}, {kGraph, "graph"}, {kTokenizer, "tokenizer"},
                                                    {kOptimizerState, "optimizer"}, {kHyperparameters, "config"}};
  std::string out;
  for (const auto& [flag, name] : names)
    if (contents & flag) out += (out.empty() ? "" : "+") + std::string(name);
  return out;
}

const std::vector<FormatEntry>& format_catalog() {
  static const std::vector<FormatEntry> table = {
      {"gguf", "GGUF", "*.gguf", "ggml / llama.cpp project, August 2023 (successor of GGJT)",
       "binary: magic \"GGUF\", version, typed key-value metadata, tensor infos, aligned tensor data",
       "weights (float and ggml quantized blocks), hyperparameters, tokenizer, chat template", kWeights | kTokenizer | kHyperparameters,
       CodeExecution::kNo,
       "pure data; the chat template is Jinja text that lmforge matches against known templates, never evaluates",
       "v1-v3, little- and big-endian", "v3 (convert --to gguf)", {FileFormat::kGguf}, {"gguf"}},
      {"ggml-legacy", "GGML / GGMF / GGJT (legacy llama.cpp)", "ggml-model-*.bin",
       "llama.cpp, March-May 2023 (ggml unversioned, ggmf v1, ggjt v1-v3); replaced by GGUF",
       "binary, not text: u32 magic, hyperparameters, vocabulary, then per tensor a header and its data "
       "(ggjt: 32-byte aligned for mmap); block layouts changed in ggjt v2 and v3",
       "weights (F32, F16, Q4_0, Q4_1, Q8_0, the short-lived Q4_2/Q4_3), hyperparameters, vocabulary (with scores from ggmf on)", kWeights | kTokenizer | kHyperparameters,
       CodeExecution::kNo, "pure data",
       "all versions; converted to GGUF with hyperparameters and vocabulary", "ggjt v3 (convert --to ggml)",
       {FileFormat::kGgmlLegacy}, {"ggml"}},
      {"safetensors", "safetensors", "*.safetensors, model-00001-of-00002.safetensors",
       "Hugging Face, 2022",
       "binary: u64 header length, JSON header (dtype, shape, byte range per tensor), raw little-endian data",
       "weights only (plus a string-to-string metadata map)", kWeights, CodeExecution::kNo,
       "pure data; every byte range is checked before use", "single files and index-sharded sets",
       "convert --to safetensors; HF folders", {FileFormat::kSafetensors}, {"safetensors"}},
      {"pytorch-zip", "PyTorch torch.save (zip)", "*.bin (pytorch_model.bin), *.pt, *.pth",
       "PyTorch (Meta), the default since torch 1.6 (2020)",
       "ZIP archive: data.pkl (a Python pickle of the saved object) plus one raw record per storage",
       "weights, and any Python object the saver chose (optimizer state, counters, ...)", kWeights | kOptimizerState,
       CodeExecution::kByDesign,
       "torch.load runs the pickle; lmforge interprets it in a restricted machine that only builds data and tensors",
       "tensors and plain values at any depth", "", {FileFormat::kPytorchZip}, {}},
      {"pytorch-legacy", "PyTorch torch.save (legacy stream)", "*.bin, *.pt, *.pth (torch < 1.6)",
       "PyTorch, before 1.6", "back-to-back pickles (magic number, protocol, system info, object, storage keys) then raw storages",
       "as pytorch-zip", kWeights | kOptimizerState, CodeExecution::kByDesign, "same restricted pickle machine", "tensors and plain values", "",
       {FileFormat::kPytorchLegacy}, {}},
      {"hf-folder", "Hugging Face model folder", "config.json + model*.safetensors or pytorch_model*.bin + tokenizer.model",
       "Hugging Face transformers",
       "a folder: JSON configuration, weights (safetensors or PyTorch, optionally sharded with an index), tokenizer files",
       "weights, hyperparameters, tokenizer, generation settings, chat template", kWeights | kTokenizer | kHyperparameters, CodeExecution::kByDesign,
       "only through PyTorch .bin weights (restricted pickle machine) or *.py files loaded with "
       "trust_remote_code, which lmforge never reads",
       "llama-family folders", "convert --to hf (from GGUF, Meta, legacy GGML, ONNX)", {FileFormat::kHfFolder}, {"hf"}},
      {"meta-folder", "Meta consolidated checkpoint", "params.json + consolidated.00.pth ... + tokenizer.model",
       "Meta AI, LLaMA (February 2023) and Llama 2 (July 2023) releases",
       "a folder: params.json, one torch.save zip per model-parallel rank (tensors split by rows or columns)",
       "weights and hyperparameters; the tokenizer beside them", kWeights | kTokenizer | kHyperparameters, CodeExecution::kByDesign,
       "restricted pickle machine; shards merged one tensor at a time",
       "merged shards -> GGUF or HF folder", "", {FileFormat::kMetaFolder}, {}},
      {"training-checkpoint", "training checkpoint (PyTorch Lightning / plain dict)", "*.ckpt, *.pt",
       "PyTorch Lightning (2019-); any training script's torch.save",
       "torch.save of a dict: state_dict / model, optimizer_states / optimizer, lr_schedulers, epoch, global_step, hyper_parameters",
       "weights, optimizer state (Adam moments, step counts), counters, hyperparameters", kWeights | kOptimizerState | kHyperparameters, CodeExecution::kByDesign,
       "restricted pickle machine; inspect says what is inside, convert keeps the weights only",
       "inspect; weights -> safetensors with wrapper prefixes stripped", "", {FileFormat::kPytorchZip, FileFormat::kPytorchLegacy},
       {}},
      {"onnx", "ONNX model", "*.onnx (+ external data files)",
       "ONNX project (Microsoft and Facebook, 2017; now LF AI & Data)",
       "protobuf ModelProto: a graph of operators plus initializers (weights), inline or in external data files",
       "graph and weights (no tokenizer)", kWeights | kGraph, CodeExecution::kWhenRun,
       "lmforge reads initializers only; external data locations must stay inside the model's folder",
       "initializers (raw and typed fields, external data); llama exports -> GGUF / HF", "weights-only ModelProto (convert --to onnx)",
       {FileFormat::kOnnx}, {"onnx"}},
      {"onnx-folder", "ONNX export folder (Hugging Face optimum)", "model.onnx (+ model.onnx_data) + config.json + tokenizer files",
       "Hugging Face optimum (optimum-cli export onnx), 2022-",
       "a folder: the ONNX model (inline or external data), config.json, tokenizer.model and/or tokenizer.json with "
       "tokenizer_config.json; no safetensors or PyTorch weights",
       "graph and weights, hyperparameters, tokenizer", kWeights | kGraph | kTokenizer | kHyperparameters, CodeExecution::kWhenRun,
       "as onnx: initializers only, external data kept inside the folder",
       "llama exports with tokenizer.model -> GGUF / HF / ggjt (config and tokenizer from the folder)", "",
       {FileFormat::kOnnxFolder}, {}},
      {"tf-checkpoint", "TensorFlow checkpoint", "PREFIX.index + PREFIX.data-00000-of-00001",
       "Google TensorFlow (tensor bundle, \"V2\" checkpoints, 2016-)",
       "PREFIX.index: an SSTable (LevelDB table format) mapping names to BundleEntryProto (dtype, shape, shard, offset, "
       "size, CRC32C); data shards: raw tensor bytes",
       "variables: weights and optimizer slots (no graph)", kWeights | kOptimizerState, CodeExecution::kNo, "pure data; block and tensor CRCs checked",
       "inspect; tensors -> safetensors", "", {FileFormat::kTfCheckpoint}, {}},
      {"protobuf-pb", "TensorFlow GraphDef / SavedModel / ONNX TensorProto", "*.pb, saved_model.pb",
       "Google TensorFlow (GraphDef 2015-, SavedModel 2017-); ONNX (TensorProto test data)",
       "protobuf: a graph of operators (GraphDef), a SavedModel wrapper of graphs and signatures, or one serialized tensor; "
       "not a PyTorch format",
       "graph and constants (SavedModel variables live in a checkpoint beside it)", kGraph | kWeights, CodeExecution::kWhenRun,
       "lmforge only walks the protobuf; graphs can contain file and system ops that TensorFlow would run",
       "inspect (which message, node and op counts, constants)", "", {FileFormat::kProtobufPb}, {}},
      {"sentencepiece", "SentencePiece model", "tokenizer.model", "Google SentencePiece, 2018",
       "protobuf ModelProto: pieces (text, score, type), trainer and normalizer specs",
       "tokenizer only", kTokenizer, CodeExecution::kNo, "pure data", "tokenize; GGUF vocabulary", "with HF folder output", {}, {}},
  };
  return table;
}

std::vector<std::string_view> convert_targets() {
  std::vector<std::string_view> out;
  for (const auto& f : format_catalog())
    for (auto t : f.convert_to) out.push_back(t);
  return out;
}

}  // namespace lmforge
