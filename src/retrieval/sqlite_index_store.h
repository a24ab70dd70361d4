// The index in one SQLite file (Debian's libsqlite3, with FTS5):
//
//   meta(key, value)                  settings: chunk size/overlap, embedding fingerprint,
//                                     vector_type (f32 or f16; absent: f32)
//   documents(id, path, sha256, size, has_vectors)
//   chunks(id, document_id, ordinal, byte_begin, byte_end, line_first, line_last, text)
//   chunks_fts                        FTS5 over chunks.text (external content, porter+unicode61)
//   vectors(chunk_id, embedding)      little-endian f32 or f16, the model's dim, L2-normalized
//   DB.vectors (a file beside it)     the vectors again, contiguous, for exact search at memory
//                                     speed: a cache, stamped with meta's index_id and
//                                     vectors_generation (bumped by every change, in its
//                                     transaction) and rebuilt whenever the stamps differ
//
// Schema 1 (before the flat file) is read as it is and stamped into schema 2 by its first
// change.
// The file carries SQLite's application_id 0x6C6D6669 ("lmfi") and user_version = the schema
// version, and a database that is not ours (another application id, or tables of someone
// else's) is refused without a byte written. Every change (a document with its chunks and
// vectors, a removal, a reset) is one transaction with the rollback journal and synchronous
// FULL: a kill -9 at any moment leaves the file as it was before that change or after it.
#pragma once

#include <memory>
#include <string>

#include "retrieval/index_store.h"

namespace lmforge::retrieval {

inline constexpr uint32_t kIndexApplicationId = 0x6C6D6669;  // "lmfi"
inline constexpr int kIndexSchemaVersion = 2;

enum class IndexOpenMode {
  kUpdate,  // `index`: created when missing, checked whole (quick_check) before writing
  kRead,    // `ask`: must exist
};

std::unique_ptr<IndexStore> open_sqlite_index(const std::string& path, IndexOpenMode mode);

}  // namespace lmforge::retrieval
