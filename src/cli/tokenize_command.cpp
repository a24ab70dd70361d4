// `lmforge tokenize -m MODEL (-p TEXT | -f FILE) [--lines] [--json] [--no-bos]`: the token ids
// (and pieces) the model's SentencePiece vocabulary gives a text, for checking prompts and for
// comparing with other tokenizers line by line.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/text_checks.h"
#include "tokenizer/spm_tokenizer.h"

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
int run_lines(const SpmTokenizer& tok, std::string_view text) {
  std::string out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    append_id_array(out, tok.encode(line, false, false));
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

int run_tokenize(const std::string& model, const std::string& prompt, const std::string& file, bool lines,
                 bool json, bool no_bos) {
  const SpmTokenizer tok(load_vocab(model));
  const std::string text = file.empty() ? prompt : read_input(file);
  if (lines) return run_lines(tok, text);

  const auto ids = tok.encode(text, tok.vocab().add_bos && !no_bos, false);
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
  static std::string model, prompt, file;
  static bool lines = false, json = false, no_bos = false;
  auto* sub = app.add_subcommand("tokenize", "Token ids of a text under a model's SentencePiece vocabulary");
  sub->add_option("-m,--model", model, "GGUF file, Hugging Face folder or tokenizer.model")->required();
  auto* p = sub->add_option("-p,--prompt", prompt, "Text to tokenize");
  auto* f = sub->add_option("-f,--file", file, "File whose contents to tokenize ('-' for standard input)");
  sub->add_flag("--lines", lines, "Tokenize each line separately, without BOS; print one JSON array of ids per line");
  sub->add_flag("--json", json, "Print {\"ids\": [...], \"pieces\": [...]}");
  sub->add_flag("--no-bos", no_bos, "Do not add the beginning-of-sequence token");
  action = [p, f] {
    if ((p->count() == 0) == (f->count() == 0)) throw UsageError("tokenize: give the text with either -p TEXT or -f FILE");
    return run_tokenize(model, prompt, file, lines, json, no_bos);
  };
  return action;
}

}  // namespace lmforge::cli
