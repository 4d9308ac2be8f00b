#include "results/sqlite.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "base/error.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using test::QueryInt;
using test::QueryText;
using test::TempDir;

TEST_CASE("write connections use WAL, synchronous NORMAL, foreign keys and a busy timeout",
          "[results][sqlite]") {
  TempDir dir;
  const Connection db = Connection::Open(dir.File("a.db"), Connection::Mode::kReadWrite);
  CHECK(QueryText(db, "PRAGMA journal_mode") == "wal");
  CHECK(QueryInt(db, "PRAGMA synchronous") == 1);  // NORMAL
  CHECK(QueryInt(db, "PRAGMA foreign_keys") == 1);
  CHECK(QueryInt(db, "PRAGMA busy_timeout") == 30000);
}

TEST_CASE("a transaction rolls back unless committed", "[results][sqlite]") {
  TempDir dir;
  const Connection db = Connection::Open(dir.File("a.db"), Connection::Mode::kReadWrite);
  db.Exec("CREATE TABLE t (x INTEGER)");
  {
    Transaction transaction(db);
    db.Exec("INSERT INTO t VALUES (1)");
  }
  CHECK(QueryInt(db, "SELECT count(*) FROM t") == 0);
  {
    Transaction transaction(db);
    db.Exec("INSERT INTO t VALUES (2)");
    transaction.Commit();
  }
  CHECK(QueryInt(db, "SELECT x FROM t") == 2);
}

TEST_CASE("a transaction rolls back when the code inside throws", "[results][sqlite]") {
  TempDir dir;
  const Connection db = Connection::Open(dir.File("a.db"), Connection::Mode::kReadWrite);
  db.Exec("CREATE TABLE t (x INTEGER NOT NULL)");
  auto insert_then_fail = [&db] {
    Transaction transaction(db);
    db.Exec("INSERT INTO t VALUES (1)");
    db.Exec("INSERT INTO t VALUES (NULL)");
    transaction.Commit();
  };
  CHECK_THROWS_AS(insert_then_fail(), SqliteError);
  CHECK(QueryInt(db, "SELECT count(*) FROM t") == 0);
}

TEST_CASE("a transaction inside another is a savepoint of it", "[results][sqlite]") {
  TempDir dir;
  const Connection db = Connection::Open(dir.File("a.db"), Connection::Mode::kReadWrite);
  db.Exec("CREATE TABLE t (x INTEGER)");
  {
    Transaction outer(db);
    db.Exec("INSERT INTO t VALUES (1)");
    {
      Transaction inner(db);
      db.Exec("INSERT INTO t VALUES (2)");
    }  // the inner one alone is undone
    {
      Transaction inner(db);
      db.Exec("INSERT INTO t VALUES (3)");
      inner.Commit();
    }
    CHECK(QueryInt(db, "SELECT sum(x) FROM t") == 4);
  }  // the outer one undoes everything, the committed inner part too
  CHECK(QueryInt(db, "SELECT count(*) FROM t") == 0);
  {
    Transaction outer(db);
    {
      Transaction inner(db);
      db.Exec("INSERT INTO t VALUES (5)");
      inner.Commit();
    }
    outer.Commit();
  }
  CHECK(QueryInt(db, "SELECT sum(x) FROM t") == 5);
}

TEST_CASE("SQLite errors carry SQLite's message and code", "[results][sqlite]") {
  TempDir dir;
  const Connection db = Connection::Open(dir.File("a.db"), Connection::Mode::kReadWrite);
  try {
    db.Prepare("SELECT * FROM no_such_table");
    FAIL("expected an error");
  } catch (const SqliteError& e) {
    CHECK(e.code() == SQLITE_ERROR);
    CHECK(e.sqlite_message() == "no such table: no_such_table");
    CHECK_THAT(e.what(), Catch::Contains("SELECT * FROM no_such_table"));
  }
  db.Exec("CREATE TABLE t (x INTEGER UNIQUE)");
  db.Exec("INSERT INTO t VALUES (1)");
  Statement insert = db.Prepare("INSERT INTO t VALUES (?1)");
  insert.BindInt(1, 1);
  CHECK_THROWS_WITH(insert.Run(), Catch::Contains("UNIQUE constraint failed: t.x"));
}

TEST_CASE("statements bind and read every SQLite type", "[results][sqlite]") {
  TempDir dir;
  const Connection db = Connection::Open(dir.File("a.db"), Connection::Mode::kReadWrite);
  const std::string name = "static name";
  Statement select = db.Prepare("SELECT ?1, ?2, ?3, ?4, ?5, ?6, typeof(?1), typeof(?2)");
  select.BindInt(1, int64_t{1} << 40)
      .BindDouble(2, 0.25)
      .BindText(3, std::string("with\0nul", 8))
      .BindStaticText(4, name)
      .BindNull(5)
      .BindOptionalInt(6, std::nullopt);
  REQUIRE(select.Step());
  CHECK(select.ColumnInt(0) == int64_t{1} << 40);
  CHECK(select.ColumnDouble(1) == 0.25);
  CHECK(select.ColumnText(2) == std::string("with\0nul", 8));
  CHECK(select.ColumnText(3) == name);
  CHECK(select.ColumnIsNull(4));
  CHECK(select.ColumnIsNull(5));
  CHECK(select.ColumnText(6) == "integer");
  CHECK(select.ColumnText(7) == "real");
  CHECK_FALSE(select.Step());
}

TEST_CASE("PrepareNext walks a script one statement at a time", "[results][sqlite]") {
  TempDir dir;
  const Connection db = Connection::Open(dir.File("a.db"), Connection::Mode::kReadWrite);
  std::string_view script = "SELECT 1; ;\n-- a comment\nSELECT 2 ; /* trailing */ ";
  std::optional<Statement> first = db.PrepareNext(script);
  REQUIRE(first);
  CHECK(first->Sql() == "SELECT 1;");
  std::optional<Statement> second = db.PrepareNext(script);
  REQUIRE(second);
  REQUIRE(second->Step());
  CHECK(second->ColumnInt(0) == 2);
  CHECK_FALSE(db.PrepareNext(script));
}

TEST_CASE("a file that is not an SQLite database is bad input naming the file",
          "[results][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("notes.db");
  std::ofstream(path) << "these are my notes, not a database; they are long enough to have a header"
                      << std::string(200, '.');
  for (Connection::Mode mode : {Connection::Mode::kReadWrite, Connection::Mode::kReadOnly}) {
    CHECK_THROWS_MATCHES(Connection::Open(path, mode), InputError,
                         Catch::Message(path + ": not an SQLite database"));
  }
}

TEST_CASE("a double-quoted name that is no column is an error, not a string", "[results][sqlite]") {
  TempDir dir;
  const std::string path = dir.File("a.db");
  {
    const Connection db = Connection::Open(path, Connection::Mode::kReadWrite);
    db.Exec("CREATE TABLE t (\"valid/ppl\" REAL)");
    db.Exec("INSERT INTO t VALUES (3.5)");
    // SQLite's default would read "valid/pp1" as the text 'valid/pp1', in a view or a constraint.
    db.Exec("CREATE VIEW v AS SELECT \"valid/pp1\" FROM t");
    CHECK_THROWS_WITH(QueryText(db, "SELECT * FROM v"),
                      Catch::Contains("no such column: valid/pp1"));
    CHECK_THROWS_WITH(db.Exec("CREATE TABLE u (x TEXT CHECK (x <> \"none\"))"),
                      Catch::Contains("no such column: none"));
    CHECK_THROWS_WITH(db.Exec("UPDATE t SET \"valid/ppl\" = 1 WHERE \"valid/pp1\" = 1"),
                      Catch::Contains("no such column: valid/pp1"));
  }
  for (Connection::Mode mode : {Connection::Mode::kReadWrite, Connection::Mode::kReadOnly}) {
    const Connection db = Connection::Open(path, mode);
    CHECK(QueryText(db, "SELECT \"valid/ppl\" || 'x' FROM t") == "3.5x");
    try {
      db.Prepare("SELECT \"valid/pp1\" FROM t");
      FAIL("expected an error");
    } catch (const SqliteError& e) {
      CHECK(e.code() == SQLITE_ERROR);
      CHECK(e.sqlite_message() == "no such column: valid/pp1");
    }
  }
}

}  // namespace
}  // namespace ablate::results
