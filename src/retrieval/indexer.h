// `lmforge index`'s work: bring an index up to date with a set of files. Files are read and
// checked first (UTF-8 text, no NUL bytes), so that a bad file refuses the run before the index
// is touched; then documents under the given paths whose files are gone are removed, new and
// changed files (by SHA-256) are split, embedded in batches and stored, each in its own
// transaction, and unchanged ones are skipped. A run killed at any point leaves every file
// either fully indexed or not at all, and the next run finishes the job.
//
// Settings: a new index (or --rebuild) takes the requested chunking, embedder and vector type; an
// existing one keeps its own, and a request for other chunking, another vector type or another
// embedding model is refused
// (exit 1, index untouched) unless rebuilding. A BM25-only index given a model gets one: its
// documents are embedded on this run (reported "changed").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "retrieval/embedder.h"
#include "retrieval/index_store.h"
#include "retrieval/text_splitter.h"

namespace lmforge::retrieval {

struct IndexOptions {
  std::vector<std::string> paths;
  std::optional<SplitterOptions> splitter;  // none given: the index's own, or the defaults
  std::optional<VectorType> vector_type;    // none given: the index's own, or f32
  bool rebuild = false;
  size_t embed_batch = 32;  // chunks per embed() call
};

struct FileResult {
  std::string path;
  std::string sha256;
  uint64_t chunks = 0;
  std::string status;  // "added", "changed", "unchanged", "removed"
};

struct IndexRunReport {
  std::vector<FileResult> files;
  std::vector<std::string> notes;  // skipped files
  uint64_t chunks_total = 0;       // in the whole index after the run
};

struct IndexProgress {
  size_t files_done = 0;
  size_t files_total = 0;
  uint64_t chunks_done = 0;  // chunks split (and embedded) in this run
};

// `embedder` null: a BM25-only index (or an existing index's model must be passed: refused).
// `on_progress` is called after every batch and file.
IndexRunReport update_index(IndexStore& store, const std::string& index_name, Embedder* embedder,
                            const IndexOptions& options,
                            const std::function<void(const IndexProgress&)>& on_progress);

}  // namespace lmforge::retrieval
