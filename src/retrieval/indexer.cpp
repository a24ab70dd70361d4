#include "retrieval/indexer.h"

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/sha256.h"
#include "core/text_checks.h"
#include "retrieval/source_files.h"

namespace lmforge::retrieval {
namespace {

struct ScannedFile {
  std::string path;
  std::string sha256;
  uint64_t size = 0;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, "read error");
  return ss.str();
}

// The checks a file must pass before anything is written: UTF-8 text without NUL bytes.
void check_text(const std::string& path, const std::string& content) {
  if (auto nul = content.find('\0'); nul != std::string::npos) {
    fail(path, "a binary file (NUL byte): only UTF-8 text is indexed", nul);
  }
  if (auto bad = find_invalid_utf8(content)) fail(path, "not UTF-8 text: ill-formed byte sequence", *bad);
}

std::string describe_splitter(const SplitterOptions& s) {
  return "--chunk-size " + std::to_string(s.chunk_size) + " --chunk-overlap " + std::to_string(s.chunk_overlap);
}

// Embeds the chunks in batches; one normalized row per chunk, row-major.
std::vector<float> embed_chunks(Embedder& embedder, const std::string& path,
                                const std::vector<TextChunk>& chunks, size_t batch,
                                const std::function<void(size_t)>& on_batch) {
  const size_t dim = embedder.dim();
  std::vector<float> out;
  out.reserve(chunks.size() * dim);
  for (size_t at = 0; at < chunks.size(); at += batch) {
    std::vector<std::string> texts;
    for (size_t i = at; i < std::min(chunks.size(), at + batch); ++i) texts.push_back(chunks[i].text);
    const auto vectors = embedder.embed(texts);
    if (vectors.size() != texts.size()) fail(path, "the embedding model returned a wrong number of vectors");
    for (const auto& v : vectors) {
      if (v.size() != dim) fail(path, "the embedding model returned a vector of the wrong dimension");
      double norm = 0;
      for (float x : v) norm += static_cast<double>(x) * x;
      if (!std::isfinite(norm)) fail(path, "the embedding model returned a non-finite vector");
      norm = std::sqrt(norm);
      for (float x : v) out.push_back(norm > 0 ? static_cast<float>(x / norm) : 0.0f);
    }
    on_batch(texts.size());
  }
  return out;
}

}  // namespace

IndexRunReport update_index(IndexStore& store, const std::string& index_name, Embedder* embedder,
                            const IndexOptions& options,
                            const std::function<void(const IndexProgress&)>& on_progress) {
  if (options.splitter) check_splitter_options(*options.splitter);
  const std::optional<EmbedderFingerprint> requested_model =
      embedder ? std::optional(embedder->fingerprint()) : std::nullopt;
  const std::optional<IndexSettings> existing = store.settings();
  const bool start_over = !existing || options.rebuild;
  IndexSettings target;
  bool add_model = false;
  if (start_over) {
    target.splitter = options.splitter.value_or(SplitterOptions{});
    target.embedder = requested_model;
    target.vector_type = options.vector_type.value_or(VectorType::kF32);
  } else {
    target = *existing;
    if (options.vector_type && *options.vector_type != existing->vector_type) {
      fail(index_name, "the index stores " + std::string(vector_type_name(existing->vector_type)) +
                           " vectors; refusing to mix vector types (use --vector-type " +
                           std::string(vector_type_name(existing->vector_type)) + ", or --rebuild)");
    }
    if (options.splitter && (options.splitter->chunk_size != existing->splitter.chunk_size ||
                             options.splitter->chunk_overlap != existing->splitter.chunk_overlap)) {
      fail(index_name, "the index was made with " + describe_splitter(existing->splitter) +
                           "; refusing to mix chunkings (use the same values, or --rebuild)");
    }
    if (existing->embedder && !requested_model) {
      fail(index_name, "the index was embedded with " + existing->embedder->describe() +
                           "; pass that model with -m (or --rebuild for a BM25-only index)");
    }
    if (existing->embedder && !requested_model->same_model(*existing->embedder)) {
      fail(index_name, "the index was embedded with " + existing->embedder->describe() +
                           ", not with " + requested_model->describe() +
                           "; refusing to mix models (use that model, or --rebuild to re-embed everything)");
    }
    if (!existing->embedder && requested_model) {
      add_model = true;
      target.embedder = requested_model;
    }
  }

  // Read and check every file before the index is touched.
  const SourceFiles sources = collect_source_files(options.paths);
  std::vector<ScannedFile> scanned;
  for (const std::string& path : sources.files) {
    const std::string content = read_file(path);
    check_text(path, content);
    scanned.push_back({path, sha256_hex(content), content.size()});
  }

  if (start_over) store.reset(target);
  if (add_model) store.set_embedder(*requested_model);

  IndexRunReport report;
  report.notes = sources.notes;
  std::map<std::string, StoredDocument> stored;
  for (auto& d : store.documents()) stored.emplace(d.path, d);
  std::set<std::string> seen;
  for (const auto& f : scanned) seen.insert(f.path);

  for (const auto& [path, doc] : stored) {
    if (seen.count(path)) continue;
    bool under = false;
    for (const auto& root : sources.roots) under = under || is_under_root(path, root);
    if (!under) continue;
    store.remove_document(path);
    report.files.push_back({path, doc.sha256, 0, "removed"});
  }

  IndexProgress progress;
  progress.files_total = scanned.size();
  const bool with_vectors = target.embedder.has_value();
  for (const ScannedFile& file : scanned) {
    auto it = stored.find(file.path);
    const bool present = it != stored.end();
    if (present && it->second.sha256 == file.sha256 && it->second.size == file.size &&
        it->second.has_vectors == with_vectors) {
      report.files.push_back({file.path, file.sha256, it->second.chunks, "unchanged"});
    } else {
      // Read again: the file may have changed since the scan, and what is stored must be what
      // was split. Its hash is recomputed from these bytes.
      const std::string content = read_file(file.path);
      check_text(file.path, content);
      const auto chunks = split_text(content, target.splitter, file.path);
      std::vector<float> vectors;
      if (with_vectors) {
        vectors = embed_chunks(*embedder, file.path, chunks, std::max<size_t>(1, options.embed_batch),
                               [&](size_t n) {
                                 progress.chunks_done += n;
                                 on_progress(progress);
                               });
      } else {
        progress.chunks_done += chunks.size();
      }
      StoredDocument doc{file.path, sha256_hex(content), content.size(), chunks.size(), with_vectors};
      store.put_document(doc, chunks, vectors);
      report.files.push_back({file.path, doc.sha256, chunks.size(), present ? "changed" : "added"});
    }
    ++progress.files_done;
    on_progress(progress);
  }
  report.chunks_total = store.chunk_count();
  return report;
}

}  // namespace lmforge::retrieval
