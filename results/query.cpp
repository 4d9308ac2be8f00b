#include "results/query.h"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string_view>

#include "base/error.h"
#include "base/number_text.h"
#include "results/sqlite.h"

namespace ablate::results {
namespace {

constexpr size_t kMaxStatementInMessage = 120;

// A statement's text as an error message shows it: trimmed, and cut short when long.
std::string Shorten(std::string_view sql) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t first = sql.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  sql = sql.substr(first, sql.find_last_not_of(kSpace) - first + 1);
  if (sql.size() <= kMaxStatementInMessage) return std::string(sql);
  return std::string(sql.substr(0, kMaxStatementInMessage)) + "...";
}

// Failures of the machine or the file rather than of the user's SQL (which can also fail as it
// runs: a malformed json() argument, an ATTACH of a missing file, ...).
bool IsRuntimeFailure(int code) {
  switch (code) {
    case SQLITE_IOERR:
    case SQLITE_NOMEM:
    case SQLITE_FULL:
    case SQLITE_CORRUPT:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_INTERNAL:
      return true;
    default:
      return false;
  }
}

std::string Ordinal(size_t index) { return "statement " + std::to_string(index + 1); }

}  // namespace

Value ColumnValue(const Statement& statement, int column) {
  switch (statement.ColumnType(column)) {
    case SQLITE_INTEGER:
      return statement.ColumnInt(column);
    case SQLITE_FLOAT:
      return statement.ColumnDouble(column);
    case SQLITE_TEXT:
      return statement.ColumnText(column);
    case SQLITE_BLOB:
      return "<blob " + std::to_string(statement.ColumnBytes(column)) + " bytes>";
    default:
      return std::monostate{};
  }
}

std::vector<ResultSet> RunReadOnlyQuery(const std::string& db_path, const std::string& sql,
                                        double timeout_seconds) {
  // SQLITE_OPEN_READONLY cannot create a file, but its error would not say that it is missing.
  if (!std::filesystem::exists(db_path)) throw InputError("no such database: " + db_path);
  const Connection connection = Connection::Open(db_path, Connection::Mode::kReadOnly);

  std::vector<Statement> statements;
  std::string_view rest = sql;
  try {
    while (std::optional<Statement> statement = connection.PrepareNext(rest)) {
      statements.push_back(std::move(*statement));
    }
  } catch (const SqliteError& e) {
    throw InputError(db_path, "", Ordinal(statements.size()) + ": " + e.sqlite_message());
  }
  // The connection is read-only already; checking first means a script is refused as a whole
  // rather than failing half-way, after its earlier statements ran.
  for (size_t i = 0; i < statements.size(); ++i) {
    if (!statements[i].IsReadOnly()) {
      throw InputError(db_path, "",
                       "ablate sql is read-only; " + Ordinal(i) +
                           " would modify the database: " + Shorten(statements[i].Sql()));
    }
  }

  // SQLite calls the handler every few thousand VM steps; a non-zero answer interrupts the query.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_seconds));
  if (timeout_seconds > 0) {
    sqlite3_progress_handler(
        connection.handle(), 10000,
        [](void* end) { return Clock::now() > *static_cast<Clock::time_point*>(end) ? 1 : 0; },
        const_cast<Clock::time_point*>(&deadline));
  }
  std::vector<ResultSet> results;
  for (size_t i = 0; i < statements.size(); ++i) {
    Statement& statement = statements[i];
    const int column_count = statement.ColumnCount();
    ResultSet result;
    for (int c = 0; c < column_count; ++c) result.columns.push_back(statement.ColumnName(c));
    try {
      while (statement.Step()) {
        std::vector<Value>& row = result.rows.emplace_back();
        row.reserve(static_cast<size_t>(column_count));
        for (int c = 0; c < column_count; ++c) row.push_back(ColumnValue(statement, c));
      }
    } catch (const SqliteError& e) {
      if (e.code() == SQLITE_INTERRUPT && timeout_seconds > 0) {
        throw InputError(db_path, "",
                         Ordinal(i) + " ran longer than --timeout " +
                             ShortestText(timeout_seconds) +
                             " s and was stopped (in: " + Shorten(statement.Sql()) + ")");
      }
      if (IsRuntimeFailure(e.code())) throw;
      throw InputError(
          db_path, "",
          Ordinal(i) + ": " + e.sqlite_message() + " (in: " + Shorten(statement.Sql()) + ")");
    }
    if (column_count > 0) results.push_back(std::move(result));
  }
  return results;
}

}  // namespace ablate::results
