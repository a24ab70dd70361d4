// `lmforge tokenize -m MODEL (-p TEXT | -f FILE) [--lines] [--json] [--no-bos] [--truncate]`:
// the token ids (and pieces) the model's vocabulary gives a text, for checking prompts and for
// comparing with other tokenizers line by line. SentencePiece for LLaMA-family models; WordPiece
// for BERT folders (config.json model_type "bert") and BERT GGUFs, where the ids without --lines are what the
// model is fed, [CLS] ... [SEP], and with --lines each line's ids without them.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "engine/bert_model.h"
#include "engine/embedder.h"
#include "formats/gguf/gguf_reader.h"
#include "tokenizer/wordpiece_gguf.h"
#include "core/atomic_output.h"
#include "tokenizer/bpe_json.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/wordpiece_tokenizer.h"

namespace lmforge::cli {

namespace {

std::string read_input(const std::string& file) {
  if (file == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  auto f = MappedFile::open(file);
  const auto b = f->bytes();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

void append_id_array(std::string& out, const std::vector<int32_t>& ids) {
  out.push_back('[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out.push_back(',');
    out += std::to_string(ids[i]);
  }
  out.push_back(']');
}

void write_out(const std::string& s) {
  if (!s.empty() && std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) throw Error("<stdout>", "cannot write the output");
}

// One JSON array of ids per input line ('\n' separated; a final newline ends the last line
// rather than starting an empty one), each line without BOS or EOS.
template <class Encode>
int run_lines(const Encode& encode_line, std::string_view text) {
  std::string out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    append_id_array(out, encode_line(line));
    out.push_back('\n');
    if (out.size() > (1u << 20)) {
      write_out(out);
      out.clear();
    }
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  write_out(out);
  return 0;
}

// A BERT folder: WordPiece ids, [CLS] ... [SEP] around the whole text unless --lines.
int run_wordpiece(WordPieceVocab vocab, const std::string& text, const std::string& source, bool lines, bool json,
                  bool truncate) {
  const WordPieceTokenizer tok(std::move(vocab));
  if (lines) return run_lines([&](std::string_view line) { return tok.encode(line); }, text);
  const auto ids = tok.encode_for_model(text, truncate, source);
  std::string out;
  if (json) {
    nlohmann::json pieces = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(tok.token(id));
    out = "{\"ids\":";
    append_id_array(out, ids);
    out += ",\"pieces\":" + pieces.dump() + "}\n";
  } else {
    for (int32_t id : ids) {
      char num[32];
      std::snprintf(num, sizeof num, "%6d", id);
      out += std::string(num) + " -> '" + escaped_for_display(tok.token(id)) + "'\n";
    }
  }
  write_out(out);
  return 0;
}

// The byte-level BPE vocabulary of `model` as a Hugging Face tokenizer.json (what GGUF -> HF
// conversion writes), for other tokenizer.json implementations to load.
int write_tokenizer_json(const std::string& model, const std::string& out) {
  const std::unique_ptr<Tokenizer> tok = load_tokenizer(model);
  const auto* bpe = dynamic_cast<const BpeTokenizer*>(tok.get());
  if (!bpe) throw UsageError("tokenize: --write-tokenizer-json is for byte-level BPE vocabularies; this one is " + tok->description());
  const std::string text = bpe_vocab_to_tokenizer_json(bpe->vocab()).dump(2) + "\n";
  AtomicOutputFile file(out, true);
  file.write(text.data(), text.size());
  file.commit();
  return 0;
}

int run_tokenize(const std::string& model, const std::string& prompt, const std::string& file, bool lines,
                 bool json, bool no_bos, bool truncate, bool parse_special) {
  const std::string text = file.empty() ? prompt : read_input(file);
  const bool bert_folder = is_bert_folder(model);
  if (bert_folder || is_bert_gguf_file(model)) {
    if (parse_special) throw UsageError("tokenize: --parse-special is for LLaMA-family vocabularies, not BERT's");
    if (no_bos) throw UsageError("tokenize: --no-bos is for SentencePiece models; use --lines for BERT ids without [CLS]/[SEP]");
    WordPieceVocab vocab = bert_folder ? load_wordpiece_vocab(model) : wordpiece_vocab_from_gguf(*GgufReader::open(model), model);
    return run_wordpiece(std::move(vocab), text, file.empty() ? "the prompt" : file, lines, json, truncate);
  }
  const std::unique_ptr<Tokenizer> tok_owner = load_tokenizer(model);
  const Tokenizer& tok = *tok_owner;
  if (lines) return run_lines([&](std::string_view line) { return tok.encode(line, false, false, parse_special); }, text);

  const auto ids = tok.encode(text, tok.add_bos() && !no_bos, false, parse_special);
  if (json) {
    nlohmann::json pieces = nlohmann::json::array();
    for (int32_t id : ids) pieces.push_back(sanitize_utf8(tok.piece(id)));
    std::string out = "{\"ids\":";
    append_id_array(out, ids);
    out += ",\"pieces\":" + pieces.dump() + "}\n";
    write_out(out);
    return 0;
  }
  std::string out;
  for (int32_t id : ids) {
    char num[32];
    std::snprintf(num, sizeof num, "%6d", id);
    out += std::string(num) + " -> '" + escaped_for_display(tok.token_text(id)) + "'\n";
  }
  write_out(out);
  return 0;
}

}  // namespace

Action& register_tokenize(CLI::App& app) {
  static Action action;
  static std::string model, prompt, file, tokenizer_json;
  static bool lines = false, json = false, no_bos = false, truncate = false, parse_special = false;
  auto* sub = app.add_subcommand("tokenize", "Token ids of a text under a model's vocabulary (SentencePiece or byte-level BPE, or WordPiece for BERT folders)");
  sub->add_option("-m,--model", model, "GGUF file, Hugging Face folder (BERT folders too), tokenizer.model or tokenizer.json")->required();
  auto* p = sub->add_option("-p,--prompt", prompt, "Text to tokenize");
  auto* f = sub->add_option("-f,--file", file, "File whose contents to tokenize ('-' for standard input)");
  sub->add_flag("--lines", lines, "Tokenize each line separately, without BOS; print one JSON array of ids per line");
  sub->add_flag("--json", json, "Print {\"ids\": [...], \"pieces\": [...]}");
  sub->add_flag("--no-bos", no_bos, "Do not add the beginning-of-sequence token");
  sub->add_flag("--parse-special", parse_special, "Text spelling a control token (\"<|eot_id|>\") becomes that token; otherwise it is plain text");
  sub->add_option("--write-tokenizer-json", tokenizer_json, "Write the byte-level BPE vocabulary as a Hugging Face tokenizer.json to this path instead of tokenizing");
  sub->add_flag("--truncate", truncate, "BERT: keep the first model_max_length ids instead of refusing a longer text");
  action = [p, f] {
    if (!tokenizer_json.empty()) return write_tokenizer_json(model, tokenizer_json);
    if ((p->count() == 0) == (f->count() == 0)) throw UsageError("tokenize: give the text with either -p TEXT or -f FILE");
    return run_tokenize(model, prompt, file, lines, json, no_bos, truncate, parse_special);
  };
  return action;
}

}  // namespace lmforge::cli
