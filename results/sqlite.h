// Thin RAII wrappers over the SQLite C API: a Connection, a prepared Statement and an IMMEDIATE
// Transaction. Every SQLite error becomes an exception carrying SQLite's own message. Knows nothing
// of ablate's schema; that lives in schema.h and store.h.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ablate::results {

// A failure reported by SQLite (I/O error, constraint violation, busy past the timeout, ...).
// what() is "SQLITE_MESSAGE (in: SQL)"; sqlite_message() is SQLite's text alone.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, std::string sqlite_message, std::string_view sql);

  int code() const { return code_; }
  const std::string& sqlite_message() const { return sqlite_message_; }

 private:
  int code_;
  std::string sqlite_message_;
};

class Statement;

// One SQLite connection, for use by one thread at a time (opened with SQLITE_OPEN_NOMUTEX).
class Connection {
 public:
  enum class Mode {
    // Creates the file if missing; WAL, synchronous=NORMAL, foreign keys on.
    kReadWrite,
    // SQLITE_OPEN_READONLY: SQLite itself refuses every write, including through ATTACH.
    kReadOnly,
  };
  static constexpr int kBusyTimeoutMs = 30000;

  // Throws InputError naming `path` when the file cannot be opened or is not an SQLite database.
  static Connection Open(const std::string& path, Mode mode);

  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one or more statements that bind nothing and whose rows are not needed.
  void Exec(std::string_view sql) const;
  Statement Prepare(std::string_view sql) const;
  // Prepares the first statement of `sql` and removes its text from the front of `sql`; nullopt
  // once only whitespace, comments and semicolons remain.
  std::optional<Statement> PrepareNext(std::string_view& sql) const;

  // Whether the database has table `name` (an older schema may lack the newer tables).
  bool HasTable(std::string_view name) const;
  int64_t Changes() const { return sqlite3_changes64(db_); }
  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Parameters are 1-based (as in SQLite), columns 0-based. Binders return
// *this so a call reads `stmt.BindInt(1, id).BindText(2, name).Step()`.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& BindInt(int index, int64_t value);
  // NaN is stored as NULL (SQLite has no NaN); +-Inf are stored as REAL infinities.
  Statement& BindDouble(int index, double value);
  // Copies the bytes.
  Statement& BindText(int index, std::string_view value);
  // Does not copy: `value` must stay alive and unchanged until the statement is stepped and reset.
  // For hot loops that bind the same few strings many times.
  Statement& BindStaticText(int index, std::string_view value);
  // Copies the bytes; stored as a BLOB (never text, so no encoding is assumed).
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);
  Statement& BindOptionalInt(int index, std::optional<int64_t> value);

  // True when a row is ready, false when the statement is done.
  bool Step();
  // Steps to completion, for statements that return no rows (or whose rows are not needed).
  void Run();
  // Makes the statement ready to step again; bindings are kept.
  void Reset();

  int ColumnCount() const { return sqlite3_column_count(stmt_); }
  std::string ColumnName(int column) const { return sqlite3_column_name(stmt_, column); }
  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL.
  int ColumnType(int column) const { return sqlite3_column_type(stmt_, column); }
  bool ColumnIsNull(int column) const { return ColumnType(column) == SQLITE_NULL; }
  int64_t ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }
  double ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string ColumnText(int column) const;
  // The column's bytes as a BLOB (a text value's UTF-8 bytes; empty for NULL).
  std::string ColumnBlob(int column) const;
  int ColumnBytes(int column) const { return sqlite3_column_bytes(stmt_, column); }

  // True when stepping cannot change the database file (sqlite3_stmt_readonly).
  bool IsReadOnly() const { return sqlite3_stmt_readonly(stmt_) != 0; }
  std::string_view Sql() const { return sqlite3_sql(stmt_); }

 private:
  friend class Connection;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement& CheckBind(int rc);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// A write transaction. Always BEGIN IMMEDIATE: taking the write lock up front means the busy
// timeout applies, whereas a deferred transaction that reads and then writes can fail at once
// with SQLITE_BUSY when another process committed in between. Rolls back unless committed.
// Inside another transaction on the same connection it is a savepoint of that one, so a
// function that writes in its own transaction can also be one step of a larger one.
class Transaction {
 public:
  explicit Transaction(const Connection& connection);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  void Commit();

 private:
  const Connection& connection_;
  bool open_ = true;
  bool nested_ = false;
};

}  // namespace ablate::results
