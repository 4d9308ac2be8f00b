#include "results/sqlite.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>

#include "base/error.h"

namespace ablate::results {
namespace {

constexpr size_t kMaxSqlInMessage = 200;

std::string DescribeError(const std::string& sqlite_message, std::string_view sql) {
  if (sql.empty()) return sqlite_message;
  std::string shown(sql.substr(0, kMaxSqlInMessage));
  if (sql.size() > kMaxSqlInMessage) shown += "...";
  return sqlite_message + " (in: " + shown + ")";
}

// An I/O failure (a full disk, a file-size limit, a vanished file) names the database and the
// operating system's reason, which SQLite's own message ("disk I/O error") leaves out.
[[noreturn]] void ThrowLastError(sqlite3* db, std::string_view sql) {
  const int code = sqlite3_errcode(db);
  std::string message = sqlite3_errmsg(db);
  const int primary = code & 0xff;
  if (primary == SQLITE_IOERR || primary == SQLITE_FULL) {
    if (const int os = sqlite3_system_errno(db); os != 0)
      message += ": " + std::string(std::strerror(os));
    const char* file = sqlite3_db_filename(db, "main");
    if (file != nullptr && *file != '\0')
      message += " (" + std::string(file) + " or its -wal file)";
  }
  throw SqliteError(code, std::move(message), sql);
}

// A missing parent directory is a typo in a user's path, not something to create silently.
void CheckParentDirectory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent)) {
    throw InputError(path, "",
                     "cannot create database: directory " + parent.string() + " does not exist");
  }
}

// Switching a new file to WAL takes an exclusive lock for which SQLite does not call the busy
// handler (two connections doing it at once could deadlock), so processes racing to create one file
// retry here. On a file already in WAL mode the pragma is a no-op.
void EnableWal(const Connection& connection) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(Connection::kBusyTimeoutMs);
  while (true) {
    try {
      connection.Exec("PRAGMA journal_mode=WAL");
      return;
    } catch (const SqliteError& e) {
      if (e.code() != SQLITE_BUSY || std::chrono::steady_clock::now() > deadline) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

SqliteError::SqliteError(int code, std::string sqlite_message, std::string_view sql)
    : std::runtime_error(DescribeError(sqlite_message, sql)),
      code_(code),
      sqlite_message_(std::move(sqlite_message)) {}

Connection Connection::Open(const std::string& path, Mode mode) {
  // NOMUTEX: a Connection is used by one thread at a time, so SQLite's per-connection mutex would
  // only cost time (a few percent of a metric write).
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READONLY;
  if (mode == Mode::kReadWrite) {
    CheckParentDirectory(path);
    flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    throw InputError(path, "", "cannot open database: " + message);
  }
  Connection connection(db, path);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // By default SQLite reads a double-quoted name that is no column as a string literal, so a
  // misspelt `SELECT "valid/pp1"` returns the text instead of failing: make it "no such column".
  for (const int option : {SQLITE_DBCONFIG_DQS_DML, SQLITE_DBCONFIG_DQS_DDL}) {
    ABLATE_CHECK(
        sqlite3_db_config(db, option, 0, nullptr) == SQLITE_OK,
        "cannot turn off double-quoted string literals: " + std::string(sqlite3_errmsg(db)));
  }
  try {
    if (mode == Mode::kReadWrite) {
      // Takes effect only while the file is still empty. Metric history is most of a results
      // database, and 16 KiB pages mean fewer B-tree splits and a quarter of the write calls.
      connection.Exec("PRAGMA page_size=16384");
      EnableWal(connection);
      connection.Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON");
    }
    // sqlite3_open_v2 reads nothing; this is the first read of the header, so a file that is not
    // a database is reported here, as bad input rather than a runtime failure.
    connection.Exec("SELECT count(*) FROM sqlite_schema");
  } catch (const SqliteError& e) {
    if (e.code() == SQLITE_NOTADB) throw InputError(path, "", "not an SQLite database");
    throw;
  }
  return connection;
}

Connection::Connection(Connection&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Connection& Connection::operator=(Connection&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

// close_v2 defers the close until the last Statement is finalized, so destruction order between
// a Connection and its Statements does not matter.
Connection::~Connection() { sqlite3_close_v2(db_); }

void Connection::Exec(std::string_view sql) const {
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
    ThrowLastError(db_, sql);
}

bool Connection::HasTable(std::string_view name) const {
  Statement table =
      Prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1");
  table.BindText(1, name);
  table.Step();
  return table.ColumnInt(0) > 0;
}

Statement Connection::Prepare(std::string_view sql) const {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    ThrowLastError(db_, sql);
  }
  ABLATE_CHECK(stmt != nullptr, "no SQL statement in: " + std::string(sql));
  return Statement(db_, stmt);
}

std::optional<Statement> Connection::PrepareNext(std::string_view& sql) const {
  while (!sql.empty()) {
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail) !=
        SQLITE_OK) {
      ThrowLastError(db_, sql);
    }
    sql.remove_prefix(static_cast<size_t>(tail - sql.data()));
    if (stmt != nullptr) return Statement(db_, stmt);
  }
  return std::nullopt;
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::CheckBind(int rc) {
  if (rc != SQLITE_OK) ThrowLastError(db_, Sql());
  return *this;
}

Statement& Statement::BindInt(int index, int64_t value) {
  return CheckBind(sqlite3_bind_int64(stmt_, index, value));
}

Statement& Statement::BindDouble(int index, double value) {
  return CheckBind(sqlite3_bind_double(stmt_, index, value));
}

Statement& Statement::BindText(int index, std::string_view value) {
  return CheckBind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  // A null pointer would bind NULL rather than an empty blob.
  return CheckBind(sqlite3_bind_blob64(stmt_, index, bytes.data() ? bytes.data() : "", bytes.size(),
                                       SQLITE_TRANSIENT));
}

Statement& Statement::BindStaticText(int index, std::string_view value) {
  return CheckBind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8));
}

Statement& Statement::BindNull(int index) { return CheckBind(sqlite3_bind_null(stmt_, index)); }

Statement& Statement::BindOptionalInt(int index, std::optional<int64_t> value) {
  return value ? BindInt(index, *value) : BindNull(index);
}

bool Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  ThrowLastError(db_, Sql());
}

void Statement::Run() {
  while (Step()) {
  }
}

// sqlite3_reset repeats the error of the last failed step, which Step already threw.
void Statement::Reset() { sqlite3_reset(stmt_); }

std::string Statement::ColumnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::ColumnBlob(int column) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (bytes == nullptr) return {};
  return std::string(bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

Transaction::Transaction(const Connection& connection)
    : connection_(connection), nested_(sqlite3_get_autocommit(connection.handle()) == 0) {
  connection_.Exec(nested_ ? "SAVEPOINT ablate_nested" : "BEGIN IMMEDIATE");
}

// After some errors (SQLITE_FULL, SQLITE_IOERR, ...) SQLite has already rolled back on its own;
// autocommit then reads true and there is nothing left to undo.
Transaction::~Transaction() {
  if (open_ && sqlite3_get_autocommit(connection_.handle()) == 0) {
    sqlite3_exec(connection_.handle(),
                 nested_ ? "ROLLBACK TO ablate_nested; RELEASE ablate_nested" : "ROLLBACK", nullptr,
                 nullptr, nullptr);
  }
}

void Transaction::Commit() {
  connection_.Exec(nested_ ? "RELEASE ablate_nested" : "COMMIT");
  open_ = false;
}

}  // namespace ablate::results
