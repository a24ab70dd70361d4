// llama.cpp's importance-matrix files, both layouts, read and written:
//
//  - GGUF (llama-imatrix's default): general.type = "imatrix"; imatrix.datasets (array of
//    strings), imatrix.chunk_count and imatrix.chunk_size (u32); per weight NAME two F32
//    tensors, NAME.in_sum2 (ne = [columns, matrices]: the raw sums of squared activations) and
//    NAME.counts (ne = [1, matrices]: how many activation rows were summed), names sorted;
//    as ggml writes them, trailing dimensions of 1 are dropped (one matrix: ne [columns], [1]).
//  - legacy .dat: i32 entry count; per entry i32 name length, the name, i32 ncall, i32 nval,
//    nval f32 (the mean squared activation times ncall); then, optionally, i32 chunk count and
//    i32 length + the dataset's name. All little-endian.
//
// Every reader distrusts its input: counts, lengths and sizes are checked against the bytes
// that remain and against each other, values must be finite and non-negative, names unique; a
// bad file is one lmforge::Error naming the file (and byte, for .dat).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace lmforge {

struct ImatrixEntry {
  std::vector<float> sums;      // matrices x columns sums (legacy: mean x ncall, one matrix)
  std::vector<int64_t> counts;  // one per matrix (legacy: {ncall})
  size_t columns() const { return counts.empty() ? 0 : sums.size() / counts.size(); }
};

struct ImatrixData {
  std::map<std::string, ImatrixEntry> entries;  // by the weight's GGUF name
  std::vector<std::string> datasets;
  uint32_t chunk_count = 0;
  uint32_t chunk_size = 0;  // tokens per chunk (0 in a legacy file, which does not store it)
  bool legacy = false;      // read from a .dat: sums are means x ncall
};

// Reads either layout (GGUF by its magic, else .dat).
ImatrixData read_imatrix_file(const std::string& path);
// The same for bytes already in memory (the fuzz harness); `label` names them in errors and
// `keep_alive` owns them.
ImatrixData parse_imatrix(std::span<const uint8_t> bytes, const std::string& label, std::shared_ptr<const void> keep_alive);

// Writes `data` (raw sums and counts, legacy == false) in either layout; the file appears only
// when complete. The .dat layout needs data.chunk_size > 0 (its ncall is counts / chunk size).
void write_imatrix_gguf(const ImatrixData& data, const std::string& path, bool overwrite);
void write_imatrix_dat(const ImatrixData& data, const std::string& path, bool overwrite);

// The importance of each column, as llama-quantize derives it: GGUF sums / count per matrix
// (a matrix with count 0 gets 1s); legacy sums / ncall (ncall 0: the sums as they are).
std::vector<float> imatrix_column_weights(const ImatrixEntry& entry, bool legacy);

}  // namespace lmforge
