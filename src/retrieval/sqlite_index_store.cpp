// SQLite implementation of IndexStore. Exact vector search scores the flat vector file beside
// the database (flat_vector_file.h; rebuilt from the database when its stamp is not the
// database's) with kernels/similarity's dot_rows_f32, or, where that file cannot be written,
// every vector read out of SQLite; at LMFORGE_ANN_MIN_CHUNKS vectors and more, search_nearest
// goes through the approximate index instead (DB.hnsw, hnsw_file.h; built from the flat file
// and rebuilt when its stamp is not the flat file's). BM25 is FTS5's bm25() (negated, so higher
// is better everywhere).
#include "retrieval/sqlite_index_store.h"

#include <algorithm>
#include <unistd.h>

#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "core/half.h"
#include "kernels/similarity.h"
#include "retrieval/flat_vector_file.h"
#include "retrieval/hnsw_file.h"
#include "retrieval/fts_query.h"
#include "retrieval/sqlite_handle.h"

namespace lmforge::retrieval {
namespace {

static_assert(std::endian::native == std::endian::little, "vectors are stored as little-endian f32");

constexpr const char* kSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE documents(
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  has_vectors INTEGER NOT NULL);
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY,
  document_id INTEGER NOT NULL REFERENCES documents(id),
  ordinal INTEGER NOT NULL,
  byte_begin INTEGER NOT NULL,
  byte_end INTEGER NOT NULL,
  line_first INTEGER NOT NULL,
  line_last INTEGER NOT NULL,
  text TEXT NOT NULL);
CREATE INDEX chunks_by_document ON chunks(document_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='id',
                                           tokenize='porter unicode61');
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE vectors(chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id), embedding BLOB NOT NULL);
)sql";

constexpr const char* kDropAll = R"sql(
DROP TRIGGER IF EXISTS chunks_fts_insert;
DROP TRIGGER IF EXISTS chunks_fts_delete;
DROP TABLE IF EXISTS chunks_fts;
DROP TABLE IF EXISTS vectors;
DROP TABLE IF EXISTS chunks;
DROP TABLE IF EXISTS documents;
DROP TABLE IF EXISTS meta;
)sql";

int64_t pragma_int(SqliteDatabase& db, const char* pragma) {
  SqliteStatement s(db, std::string("PRAGMA ") + pragma);
  return s.step() ? s.column_int(0) : 0;
}

// Refuses, from the file's first 100 bytes and before SQLite opens it, what cannot be ours: a
// file that is not an SQLite database, one with another application id, and one in WAL mode
// (we never use WAL; opening one would create -wal/-shm files beside it and checkpoint into
// it). A database with application id 0 is looked at by SQLite next (ours when it has no
// tables yet). An empty or missing file is a new index.
void refuse_foreign_file(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) return;
  unsigned char header[100] = {};
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(header), sizeof header);
  if (in.gcount() != sizeof header || std::memcmp(header, "SQLite format 3", 16) != 0) {
    fail(path, "not an lmforge index (not an SQLite database); refusing to touch it");
  }
  const uint32_t app_id = (uint32_t{header[68]} << 24) | (uint32_t{header[69]} << 16) |
                          (uint32_t{header[70]} << 8) | uint32_t{header[71]};
  if (app_id != 0 && app_id != kIndexApplicationId) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", app_id);
    fail(path, std::string("not an lmforge index (SQLite application_id ") + hex +
                   ", expected 0x6c6d6669); refusing to touch it");
  }
  if (header[18] == 2 || header[19] == 2 || std::filesystem::exists(path + "-wal", ec)) {
    fail(path, "not an lmforge index (an SQLite database in WAL mode); refusing to touch it");
  }
}

class SqliteIndexStore : public IndexStore {
 public:
  SqliteIndexStore(const std::string& path, IndexOpenMode mode)
      : db_(path, mode == IndexOpenMode::kUpdate ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                                 : open_flags_for_reading(path)) {
    // Exact search reads every vector: through a memory map SQLite hands out pointers into the
    // file's pages instead of copying each page through read() into its page cache.
    db_.exec("PRAGMA mmap_size = 17179869184");
    if (mode == IndexOpenMode::kUpdate) {
      SqliteStatement check(db_, "PRAGMA quick_check");
      const std::string verdict = check.step() ? check.column_text(0) : "no answer";
      if (verdict != "ok") fail(path, "the index database is corrupt (quick_check: " + verdict + ")");
    }
    const int64_t app_id = pragma_int(db_, "application_id");
    SqliteStatement objects(db_, "SELECT count(*) FROM sqlite_schema");
    const int64_t n_objects = objects.step() ? objects.column_int(0) : 0;
    if (app_id == 0 && n_objects == 0) {
      empty_ = true;
      use_durable_journal(mode);
      return;
    }
    if (app_id != kIndexApplicationId) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%08llx", static_cast<unsigned long long>(app_id & 0xFFFFFFFF));
      fail(path, std::string("not an lmforge index (SQLite application_id ") + hex +
                     ", expected 0x6c6d6669); refusing to touch it");
    }
    const int64_t version = pragma_int(db_, "user_version");
    has_stamp_ = version == kIndexSchemaVersion;
    upgrade_on_write_ = version == 1;
    if (version != kIndexSchemaVersion && version != 1) {
      fail(path, "index schema version " + std::to_string(version) + ", this lmforge reads version " +
                     std::to_string(kIndexSchemaVersion) + (version > kIndexSchemaVersion ? " (made by a newer lmforge)" : ""));
    }
    use_durable_journal(mode);
  }

  std::optional<IndexSettings> settings() override {
    if (empty_) return std::nullopt;
    std::map<std::string, std::string> meta;
    SqliteStatement s(db_, "SELECT key, value FROM meta");
    while (s.step()) meta[s.column_text(0)] = s.column_text(1);
    IndexSettings settings;
    settings.splitter.chunk_size = meta_number(meta, "chunk_size");
    settings.splitter.chunk_overlap = meta_number(meta, "chunk_overlap");
    if (meta.count("embed_architecture")) {
      EmbedderFingerprint fp;
      fp.architecture = meta["embed_architecture"];
      fp.file_sha256 = meta["embed_file_sha256"];
      fp.pooling = meta["embed_pooling"];
      fp.dim = static_cast<uint32_t>(meta_number(meta, "embed_dim"));
      fp.spec = meta["embed_spec"];
      if (fp.dim == 0 || fp.dim > 65536) fail(db_.path(), "index meta: embedding dimension out of range");
      settings.embedder = fp;
    }
    const auto type = meta.find("vector_type");
    if (type == meta.end() || type->second == "f32") {
      settings.vector_type = VectorType::kF32;
    } else if (type->second == "f16") {
      settings.vector_type = VectorType::kF16;
    } else {
      fail(db_.path(), "corrupt index: meta 'vector_type' is neither f32 nor f16");
    }
    return settings;
  }

  void reset(const IndexSettings& settings) override {
    SqliteTransaction tx(db_);
    db_.exec(kDropAll);
    db_.exec(kSchema);
    upgrade_on_write_ = false;
    db_.exec("PRAGMA application_id = " + std::to_string(kIndexApplicationId));
    db_.exec("PRAGMA user_version = " + std::to_string(kIndexSchemaVersion));
    put_meta("chunk_size", std::to_string(settings.splitter.chunk_size));
    put_meta("chunk_overlap", std::to_string(settings.splitter.chunk_overlap));
    if (settings.embedder) write_embedder(*settings.embedder);
    put_meta("vector_type", std::string(vector_type_name(settings.vector_type)));
    put_meta("index_id", new_index_id());
    put_meta("vectors_generation", "0");
    tx.commit();
    empty_ = false;
    has_stamp_ = true;
  }

  void set_embedder(const EmbedderFingerprint& embedder) override {
    SqliteTransaction tx(db_);
    write_embedder(embedder);
    bump_generation();
    tx.commit();
  }

  std::vector<StoredDocument> documents() override {
    std::vector<StoredDocument> out;
    if (empty_) return out;
    SqliteStatement s(db_,
                      "SELECT d.path, d.sha256, d.size, d.has_vectors, "
                      "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id) "
                      "FROM documents d ORDER BY d.path");
    while (s.step()) {
      out.push_back({s.column_text(0), s.column_text(1), static_cast<uint64_t>(s.column_int(2)),
                     static_cast<uint64_t>(s.column_int(4)), s.column_int(3) != 0});
    }
    return out;
  }

  void put_document(const StoredDocument& document, std::span<const TextChunk> chunks,
                    std::span<const float> vectors) override {
    const size_t dim = chunks.empty() ? 0 : vectors.size() / chunks.size();
    const bool vectors_missing = document.has_vectors && !chunks.empty() && vectors.empty();
    if (vectors_missing || (!vectors.empty() && (dim == 0 || dim * chunks.size() != vectors.size()))) {
      fail(db_.path(), "internal: " + std::to_string(vectors.size()) + " vector floats for " +
                           std::to_string(chunks.size()) + " chunks");
    }
    const VectorType type = stored_vector_type();
    std::vector<uint16_t> halves;
    SqliteTransaction tx(db_);
    delete_document(document.path);
    SqliteStatement doc(db_, "INSERT INTO documents(path, sha256, size, has_vectors) VALUES (?, ?, ?, ?)");
    doc.bind(1, document.path).bind(2, document.sha256).bind(3, static_cast<int64_t>(document.size));
    doc.bind(4, int64_t{document.has_vectors ? 1 : 0});
    doc.step();
    const int64_t document_id = sqlite3_last_insert_rowid(db_.get());
    SqliteStatement chunk(db_,
                          "INSERT INTO chunks(document_id, ordinal, byte_begin, byte_end, line_first, "
                          "line_last, text) VALUES (?, ?, ?, ?, ?, ?, ?)");
    SqliteStatement vector(db_, "INSERT INTO vectors(chunk_id, embedding) VALUES (?, ?)");
    for (size_t i = 0; i < chunks.size(); ++i) {
      const TextChunk& c = chunks[i];
      chunk.bind(1, document_id).bind(2, static_cast<int64_t>(i));
      chunk.bind(3, static_cast<int64_t>(c.byte_begin)).bind(4, static_cast<int64_t>(c.byte_end));
      chunk.bind(5, int64_t{c.line_first}).bind(6, int64_t{c.line_last}).bind(7, c.text);
      chunk.step();
      chunk.reset();
      if (!vectors.empty()) {
        const int64_t chunk_id = sqlite3_last_insert_rowid(db_.get());
        const auto* bytes = reinterpret_cast<const uint8_t*>(vectors.data() + i * dim);
        size_t n_bytes = dim * sizeof(float);
        if (type == VectorType::kF16) {
          halves.resize(dim);
          for (size_t j = 0; j < dim; ++j) halves[j] = fp32_to_fp16(vectors[i * dim + j]);
          bytes = reinterpret_cast<const uint8_t*>(halves.data());
          n_bytes = dim * sizeof(uint16_t);
        }
        vector.bind(1, chunk_id).bind_blob(2, {bytes, n_bytes});
        vector.step();
        vector.reset();
      }
    }
    bump_generation();
    tx.commit();
  }

  void remove_document(const std::string& path) override {
    SqliteTransaction tx(db_);
    delete_document(path);
    bump_generation();
    tx.commit();
  }

  uint64_t chunk_count() override {
    if (empty_) return 0;
    SqliteStatement s(db_, "SELECT count(*) FROM chunks");
    return s.step() ? static_cast<uint64_t>(s.column_int(0)) : 0;
  }

  std::vector<ScoredChunk> search_bm25(std::string_view question, size_t k) override {
    std::vector<ScoredChunk> out;
    const std::string query = fts5_query_for(question);
    if (empty_ || query.empty() || k == 0) return out;
    SqliteStatement s(db_,
                      "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
                      "ORDER BY bm25(chunks_fts), rowid LIMIT ?");
    s.bind(1, query).bind(2, static_cast<int64_t>(k));
    while (s.step()) out.push_back({s.column_int(0), -s.column_double(1)});
    return out;
  }

  std::vector<ScoredChunk> search_vectors(std::span<const float> query, size_t k) override {
    if (empty_ || k == 0) return {};
    if (const FlatVectorFile* flat = current_flat_file(static_cast<uint32_t>(query.size()))) {
      std::vector<float> scores(flat->count());
      if (flat->stamp().element_type == kVectorElementF16) {
        dot_rows_f16(static_cast<const uint16_t*>(flat->rows()), flat->count(), query.size(), query.data(), scores.data());
      } else {
        dot_rows_f32(static_cast<const float*>(flat->rows()), flat->count(), query.size(), query.data(), scores.data());
      }
      return top_k(flat->ids(), scores, k);
    }
    return search_vectors_in_sqlite(query, k);
  }

  VectorSearchResult search_nearest(std::span<const float> query, size_t k, const VectorSearchOptions& options) override {
    if (empty_ || k == 0) return {};
    const FlatVectorFile* flat = current_flat_file(static_cast<uint32_t>(query.size()));
    if (flat && wants_approximate(*flat, options)) {
      if (const ApproximateIndex* ann = current_approximate_index(*flat, options)) {
        return {ann->search(query, k, hnsw_ef_search(k)), VectorSearchKind::kApproximate};
      }
    }
    return {search_vectors(query, k), VectorSearchKind::kExact};
  }

  void prepare_vector_search(const VectorSearchOptions& options) override {
    if (empty_) return;
    const auto s = settings();
    if (!s || !s->embedder) return;
    const FlatVectorFile* flat = current_flat_file(s->embedder->dim);
    if (flat && wants_approximate(*flat, options)) current_approximate_index(*flat, options);
  }

  std::vector<ChunkRecord> fetch_chunks(std::span<const int64_t> chunk_ids) override {
    std::vector<ChunkRecord> out;
    SqliteStatement s(db_,
                      "SELECT c.id, d.path, c.line_first, c.line_last, c.text FROM chunks c "
                      "JOIN documents d ON d.id = c.document_id WHERE c.id = ?");
    for (int64_t id : chunk_ids) {
      s.bind(1, id);
      if (!s.step()) fail(db_.path(), "corrupt index: chunk " + std::to_string(id) + " has no row");
      out.push_back({s.column_int(0), s.column_text(1), static_cast<uint32_t>(s.column_int(2)),
                     static_cast<uint32_t>(s.column_int(3)), s.column_text(4)});
      s.reset();
    }
    return out;
  }

 private:
  // Highest score first; ties by chunk id, so results do not depend on the sort.
  static std::vector<ScoredChunk> top_k(std::span<const int64_t> ids, const std::vector<float>& scores, size_t k) {
    std::vector<size_t> order(ids.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    const size_t n = std::min(k, order.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                      [&](size_t a, size_t b) { return scores[a] != scores[b] ? scores[a] > scores[b] : ids[a] < ids[b]; });
    std::vector<ScoredChunk> out;
    for (size_t i = 0; i < n; ++i) out.push_back({ids[order[i]], scores[order[i]]});
    return out;
  }

  // The stamp the database holds now; nullopt for an index made before stamps (schema 1, read
  // only), which is searched in SQLite.
  std::optional<VectorStamp> stamp_in_database(uint32_t dim) {
    if (!has_stamp_) return std::nullopt;
    SqliteStatement s(db_, "SELECT key, value FROM meta WHERE key IN ('index_id', 'vectors_generation')");
    std::map<std::string, std::string> meta;
    while (s.step()) meta[s.column_text(0)] = s.column_text(1);
    VectorStamp stamp;
    stamp.index_id = meta["index_id"];
    if (stamp.index_id.size() != 32) fail(db_.path(), "corrupt index: meta 'index_id' missing or malformed");
    stamp.generation = meta_number(meta, "vectors_generation");
    stamp.dim = dim;
    stamp.element_type = stored_vector_type() == VectorType::kF16 ? kVectorElementF16 : kVectorElementF32;
    return stamp;
  }

  // The flat file for the database as it is now: the one mapped already, the one on disk, or
  // one rebuilt from the database; nullptr when it cannot be written (a read-only folder).
  const FlatVectorFile* current_flat_file(uint32_t dim) {
    const auto stamp = stamp_in_database(dim);
    if (!stamp) return nullptr;
    if (flat_ && flat_->stamp() == *stamp) return flat_.get();
    flat_.reset();
    const std::string path = db_.path() + ".vectors";
    flat_ = FlatVectorFile::open_if_current(path, *stamp);
    if (flat_) return flat_.get();
    if (!rebuild_flat_file(path, dim)) return nullptr;
    flat_ = FlatVectorFile::open_if_current(path, *stamp);
    return flat_.get();  // nullptr when another writer changed the index meanwhile
  }

  // Reads the stamp and every vector in one read transaction (so they belong together) and
  // writes the flat file. False when the file cannot be written.
  bool rebuild_flat_file(const std::string& path, uint32_t dim) {
    db_.exec("BEGIN");
    try {
      const auto stamp = stamp_in_database(dim);
      const size_t element = vector_element_size(stamp->element_type);
      std::vector<int64_t> ids;
      std::vector<uint8_t> rows;
      SqliteStatement s(db_, "SELECT chunk_id, embedding FROM vectors ORDER BY chunk_id");
      while (s.step()) {
        const auto blob = s.column_blob(1);
        check_vector_size(blob.size(), dim, element);
        ids.push_back(s.column_int(0));
        rows.insert(rows.end(), blob.begin(), blob.end());
      }
      db_.exec("COMMIT");
      try {
        write_flat_vector_file(path, *stamp, ids, rows);
      } catch (const Error&) {
        return false;
      }
      return true;
    } catch (...) {
      sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  static bool wants_approximate(const FlatVectorFile& flat, const VectorSearchOptions& options) {
    return !options.exact_only && flat.count() > 0 && flat.count() >= options.approximate_min_chunks;
  }

  // The approximate index for the flat file as it is now: the one loaded already, the one on
  // disk (DB.hnsw) when its stamp and checks hold, or one built from the flat file and written
  // there (where the folder is read-only, used from memory this time). nullptr when hnswlib
  // cannot build it (memory): the caller searches exactly.
  const ApproximateIndex* current_approximate_index(const FlatVectorFile& flat, const VectorSearchOptions& options) {
    const HnswStamp stamp{flat.stamp(), flat.count(), options.hnsw};
    if (ann_ && ann_stamp_ == stamp) return ann_.get();
    ann_.reset();
    const std::string path = db_.path() + ".hnsw";
    ann_ = open_hnsw_file_if_current(path, stamp);
    if (!ann_) {
      std::function<void(uint64_t)> progress;
      if (options.on_build_progress) progress = [&](uint64_t done) { options.on_build_progress(done, flat.count()); };
      try {
        ann_ = ApproximateIndex::build(flat.rows(), flat.stamp().element_type, flat.ids(), flat.stamp().dim,
                                       options.hnsw, options.threads, progress);
      } catch (const Error&) {
        return nullptr;
      }
      try {
        write_hnsw_file(path, stamp, *ann_);
      } catch (const Error&) {
        // A read-only folder: the graph serves this process only.
      }
    }
    ann_stamp_ = stamp;
    return ann_.get();
  }

  void check_vector_size(size_t bytes, size_t dim, size_t element) {
    if (bytes != dim * element) {
      fail(db_.path(), "corrupt index: a vector of " + std::to_string(bytes) +
                           " bytes where the model's dimension " + std::to_string(dim) + " needs " +
                           std::to_string(dim * element));
    }
  }

  VectorType stored_vector_type() {
    SqliteStatement s(db_, "SELECT value FROM meta WHERE key = 'vector_type'");
    if (!s.step()) return VectorType::kF32;  // indexes made before the option
    const std::string value = s.column_text(0);
    if (value != "f32" && value != "f16") fail(db_.path(), "corrupt index: meta 'vector_type' is neither f32 nor f16");
    return value == "f16" ? VectorType::kF16 : VectorType::kF32;
  }

  std::vector<ScoredChunk> search_vectors_in_sqlite(std::span<const float> query, size_t k) {
    const size_t dim = query.size();
    const VectorType type = stored_vector_type();
    std::vector<int64_t> ids;
    std::vector<float> scores;
    {
      SqliteStatement count(db_, "SELECT count(*) FROM vectors");
      const auto n = static_cast<size_t>(count.step() ? count.column_int(0) : 0);
      ids.reserve(n);
      scores.reserve(n);
    }
    // Rows are gathered into a small block that stays in the caches and scored a block at a
    // time, rather than copied into one matrix the size of the index (which cost a page fault
    // and a trip to memory per 4 KiB on top of reading the database).
    constexpr size_t kBlockRows = 256;
    std::vector<float> block(kBlockRows * dim);
    size_t in_block = 0;
    auto score_block = [&] {
      scores.resize(scores.size() + in_block);
      dot_rows_f32(block.data(), in_block, dim, query.data(), scores.data() + scores.size() - in_block);
      in_block = 0;
    };
    SqliteStatement s(db_, "SELECT chunk_id, embedding FROM vectors ORDER BY chunk_id");
    while (s.step()) {
      const auto blob = s.column_blob(1);
      check_vector_size(blob.size(), dim, vector_element_bytes(type));
      ids.push_back(s.column_int(0));
      float* row = block.data() + in_block * dim;
      if (type == VectorType::kF16) {
        for (size_t j = 0; j < dim; ++j) row[j] = fp16_to_fp32(uint16_t(blob[2 * j] | blob[2 * j + 1] << 8));
      } else {
        std::memcpy(row, blob.data(), blob.size());
      }
      if (++in_block == kBlockRows) score_block();
    }
    if (in_block > 0) score_block();
    return top_k(ids, scores, k);
  }

  // Every transaction that changes the index bumps this, so a flat vector file made before it
  // is stale. An index made before flat files (schema 1) gets its stamp and schema 2 in the
  // first such transaction, so that no lmforge that does not bump the generation writes to it
  // again (and a refused run leaves it untouched).
  void bump_generation() {
    if (upgrade_on_write_) {
      put_meta("index_id", new_index_id());
      put_meta("vectors_generation", "0");
      db_.exec("PRAGMA user_version = " + std::to_string(kIndexSchemaVersion));
      upgrade_on_write_ = false;
      has_stamp_ = true;
    }
    db_.exec("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'vectors_generation'");
  }

  static int open_flags_for_reading(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail(path, "no such index (run `lmforge index --db " + path + " ...` first)");
    refuse_foreign_file(path);
    // Read-write when allowed, so that SQLite can roll back a journal an interrupted `index`
    // left behind (a read-only connection cannot); nothing here writes otherwise.
    return ::access(path.c_str(), W_OK) == 0 ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
  }

  // Said explicitly rather than left to how the library was compiled: the rollback journal (one
  // file at rest) and an fsync at every commit. Only once the file is known to be ours: a
  // journal mode change rewrites the header of a database in WAL mode.
  void use_durable_journal(IndexOpenMode mode) {
    if (mode == IndexOpenMode::kUpdate) db_.exec("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL");
  }

  size_t meta_number(const std::map<std::string, std::string>& meta, const std::string& key) {
    auto it = meta.find(key);
    if (it == meta.end() || it->second.empty() || it->second.size() > 9 ||
        it->second.find_first_not_of("0123456789") != std::string::npos) {
      fail(db_.path(), "corrupt index: meta '" + key + "' missing or not a number");
    }
    return std::stoul(it->second);
  }

  void put_meta(const std::string& key, const std::string& value) {
    SqliteStatement s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
    s.bind(1, key).bind(2, value);
    s.step();
  }

  void write_embedder(const EmbedderFingerprint& fp) {
    put_meta("embed_architecture", fp.architecture);
    put_meta("embed_file_sha256", fp.file_sha256);
    put_meta("embed_pooling", fp.pooling);
    put_meta("embed_dim", std::to_string(fp.dim));
    put_meta("embed_spec", fp.spec);
  }

  void delete_document(const std::string& path) {
    SqliteStatement v(db_,
                      "DELETE FROM vectors WHERE chunk_id IN (SELECT c.id FROM chunks c JOIN documents d "
                      "ON d.id = c.document_id WHERE d.path = ?)");
    v.bind(1, path);
    v.step();
    SqliteStatement c(db_, "DELETE FROM chunks WHERE document_id IN (SELECT id FROM documents WHERE path = ?)");
    c.bind(1, path);
    c.step();
    SqliteStatement d(db_, "DELETE FROM documents WHERE path = ?");
    d.bind(1, path);
    d.step();
  }

  SqliteDatabase db_;
  bool empty_ = false;
  bool has_stamp_ = false;  // meta holds index_id and vectors_generation (schema 2)
  bool upgrade_on_write_ = false;  // schema 1: stamped by the first write
  std::unique_ptr<FlatVectorFile> flat_;  // the mapped flat file, kept while its stamp holds
  std::unique_ptr<ApproximateIndex> ann_;  // the loaded graph, kept while ann_stamp_ holds
  HnswStamp ann_stamp_;
};

}  // namespace

std::unique_ptr<IndexStore> open_sqlite_index(const std::string& path, IndexOpenMode mode) {
  if (mode == IndexOpenMode::kUpdate) refuse_foreign_file(path);
  return std::make_unique<SqliteIndexStore>(path, mode);
}

}  // namespace lmforge::retrieval
