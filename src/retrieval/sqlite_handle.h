// A thin RAII layer over the SQLite C API for the index store: one connection, prepared
// statements with typed binds and columns, and every failure turned into an lmforge::Error that
// names the database file and says what SQLite said (a corrupt file reads "corrupt").
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace lmforge::retrieval {

class SqliteDatabase {
 public:
  // flags: SQLITE_OPEN_* (READONLY, or READWRITE with or without CREATE).
  SqliteDatabase(const std::string& path, int flags);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }
  void exec(const std::string& sql);  // statements without results
  [[noreturn]] void fail_with(int code, const std::string& doing) const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class SqliteStatement {
 public:
  SqliteStatement(SqliteDatabase& db, std::string_view sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Binds are 1-based, as in SQL.
  SqliteStatement& bind(int index, int64_t value);
  SqliteStatement& bind(int index, std::string_view text);
  SqliteStatement& bind_blob(int index, std::span<const uint8_t> bytes);
  // Steps once: true while a row is available.
  bool step();
  void reset();  // ready to bind and run again
  int64_t column_int(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  std::span<const uint8_t> column_blob(int index) const;  // valid until the next step

 private:
  SqliteDatabase& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless commit() ran.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDatabase& db);
  ~SqliteTransaction();
  void commit();

 private:
  SqliteDatabase& db_;
  bool open_ = true;
};

}  // namespace lmforge::retrieval
