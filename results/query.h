// Read-only SQL over a results database, for `ablate sql`: runs each statement of a user's script
// and returns typed rows. Refuses, before running anything, any script with a statement that
// would write, and opens the database read-only (SQLite may still create its -wal/-shm files).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace ablate::results {

// NULL, INTEGER, REAL or TEXT; a BLOB is shown as the text "<blob N bytes>".
using Value = std::variant<std::monostate, int64_t, double, std::string>;

struct ResultSet {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
};

class Statement;
// A column of the statement's current row as a cell: SQLite's own type; a blob as "<blob N bytes>".
Value ColumnValue(const Statement& statement, int column);

// One ResultSet per statement that has result columns (a SELECT with no matching rows still gives
// its columns; ATTACH, BEGIN and the like give none), in statement order. All statements are
// prepared before any runs, so a later statement cannot refer to a database that an earlier
// ATTACH would bring in. Works while writers hold the (WAL) database open. Throws InputError for a
// missing file, a file that is not a database, an SQL error, or a statement that would write.
// With `timeout_seconds` > 0, a query still running after that long is stopped: InputError
// saying so (nothing is returned of a script cut short).
std::vector<ResultSet> RunReadOnlyQuery(const std::string& db_path, const std::string& sql,
                                        double timeout_seconds = 0);

}  // namespace ablate::results
