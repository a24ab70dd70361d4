// What lmforge knows about every model file format users meet: one table that `lmforge
// formats` prints and docs/formats.md explains. Kept as data so a test can hold it to the
// code (every format the sniffer recognises is listed; every output the converter accepts is
// claimed as written).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/detect/sniff.h"

namespace lmforge {

// Whether loading a file of this format, with the tool people normally use, can run code
// that the file carries.
enum class CodeExecution {
  kNo,            // pure data: a reader only copies bytes and numbers
  kByDesign,      // the standard loader executes instructions from the file (pickle)
  kWhenRun,       // the file describes a program (a graph) that does I/O when a runtime executes it
};

// What a file of the format can hold, as flags for the summary table.
enum Contents : unsigned {
  kWeights = 1, kGraph = 2, kTokenizer = 4, kOptimizerState = 8, kHyperparameters = 16,
};
std::string contents_text(unsigned contents);  // "weights+tokenizer+config"

struct FormatEntry {
  std::string_view id;          // short name, stable ("gguf", "pytorch-zip", ...)
  std::string_view name;        // what people call it
  std::string_view files;       // typical file names / extensions
  std::string_view defined_by;  // who defined the format, and when
  std::string_view structure;   // what the bytes are
  std::string_view holds;       // weights / graph / tokenizer / optimizer state / metadata
  unsigned contents;            // the same as Contents flags
  CodeExecution code;
  std::string_view code_note;   // how lmforge reads it safely
  std::string_view reads;       // what lmforge reads ("" = no)
  std::string_view writes;      // what lmforge writes, with the convert option ("" = no)
  std::vector<FileFormat> sniffed_as;  // the sniffer's results that mean this format
  std::vector<std::string_view> convert_to;  // `convert --to` values that write it
};

const std::vector<FormatEntry>& format_catalog();
// Every `convert --to` value, collected from the catalog; the convert command accepts exactly
// these, so the table cannot claim an output the command refuses (or miss one it writes).
std::vector<std::string_view> convert_targets();
std::string_view code_execution_text(CodeExecution c);

}  // namespace lmforge
