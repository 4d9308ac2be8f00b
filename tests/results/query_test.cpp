#include "results/query.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "results/store.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using test::QueryInt;
using test::TempDir;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A closed database with two runs, one with a final metric.
std::string MakeDatabase(const TempDir& dir) {
  const std::string path = dir.File("results.db");
  Store store = Store::Open(path);
  store.Submit(
      {"exp",
       "",
       "{}",
       {{"a", {{"optim.lr", 1e-4}, {"seed", 1}}}, {"b", {{"optim.lr", 7e-4}, {"seed", 2}}}}});
  const int64_t run = store.ClaimNext(std::nullopt, "h", 1)->run_id;
  store.SetFinalMetric(run, "valid_ppl", 4.5, 10);
  return path;
}

TEST_CASE("a read-only query returns typed values and column names", "[results][query]") {
  TempDir dir;
  const std::string path = MakeDatabase(dir);
  const std::vector<ResultSet> results =
      RunReadOnlyQuery(path, "SELECT 1 AS i, 2.5 AS f, 'text' AS s, NULL AS n, x'00ff10' AS b");
  REQUIRE(results.size() == 1);
  CHECK(results[0].columns == std::vector<std::string>{"i", "f", "s", "n", "b"});
  REQUIRE(results[0].rows.size() == 1);
  const std::vector<Value>& row = results[0].rows[0];
  CHECK(std::get<int64_t>(row[0]) == 1);
  CHECK(std::get<double>(row[1]) == 2.5);
  CHECK(std::get<std::string>(row[2]) == "text");
  CHECK(std::holds_alternative<std::monostate>(row[3]));
  CHECK(std::get<std::string>(row[4]) == "<blob 3 bytes>");
}

TEST_CASE("a read-only query runs each statement and reads the views", "[results][query]") {
  TempDir dir;
  const std::string path = MakeDatabase(dir);
  const std::vector<ResultSet> results = RunReadOnlyQuery(
      path,
      "SELECT key, \"optim.lr\", valid_ppl FROM runs_wide ORDER BY \"optim.lr\" DESC;\n"
      "-- nothing matches, but the columns still come back\n"
      "SELECT name FROM run_params WHERE value > 100;;\n"
      "BEGIN; SELECT count(*) AS n FROM metrics; COMMIT");
  REQUIRE(results.size() == 3);
  CHECK(results[0].columns == std::vector<std::string>{"key", "optim.lr", "valid_ppl"});
  REQUIRE(results[0].rows.size() == 2);
  CHECK(std::get<std::string>(results[0].rows[0][0]) == "b");
  CHECK(std::get<double>(results[0].rows[0][1]) == 7e-4);
  CHECK(std::holds_alternative<std::monostate>(results[0].rows[0][2]));
  CHECK(std::get<double>(results[0].rows[1][2]) == 4.5);
  CHECK(results[1].columns == std::vector<std::string>{"name"});
  CHECK(results[1].rows.empty());
  CHECK(std::get<int64_t>(results[2].rows.at(0).at(0)) == 0);
}

TEST_CASE("a read-only query refuses any script that would write, before running any of it",
          "[results][query]") {
  TempDir dir;
  const std::string path = MakeDatabase(dir);
  const std::string before = ReadBytes(path);
  const std::string attached = dir.File("new.db");

  CHECK_THROWS_MATCHES(
      RunReadOnlyQuery(path,
                       "SELECT 1; INSERT INTO experiments (name, grid_json, "
                       "grid_sha256, created_at, updated_at) "
                       "VALUES ('x', '{}', '', 0, 0)"),
      InputError,
      Catch::Message(path + ": ablate sql is read-only; statement 2 would modify the "
                            "database: INSERT INTO experiments (name, grid_json, "
                            "grid_sha256, created_at, updated_at) VALUES ('x', '{}', "
                            "'', 0, 0)"));
  for (const std::string& sql :
       {std::string("DELETE FROM runs"), std::string("UPDATE runs SET status = 'failed'"),
        std::string("CREATE TABLE t (x)"), std::string("DROP VIEW runs_wide"),
        std::string("PRAGMA user_version = 9"), std::string("PRAGMA journal_mode = DELETE"),
        std::string("CREATE TEMP TABLE t AS SELECT 1"), std::string("VACUUM"),
        std::string("VACUUM INTO '") + attached + "'",
        "ATTACH '" + attached + "' AS other; CREATE TABLE other.t (x)"}) {
    CAPTURE(sql);
    CHECK_THROWS_AS(RunReadOnlyQuery(path, sql), InputError);
  }
  CHECK_FALSE(std::filesystem::exists(attached));
  CHECK(ReadBytes(path) == before);
}

TEST_CASE("a read-only query reports SQL errors with SQLite's message", "[results][query]") {
  TempDir dir;
  const std::string path = MakeDatabase(dir);
  CHECK_THROWS_MATCHES(RunReadOnlyQuery(path, "SELECT 1; SELEC 2"), InputError,
                       Catch::Message(path + ": statement 2: near \"SELEC\": syntax error"));
  CHECK_THROWS_MATCHES(RunReadOnlyQuery(path, "SELECT * FROM nope"), InputError,
                       Catch::Message(path + ": statement 1: no such table: nope"));
  const std::string missing = dir.File("missing.db");
  CHECK_THROWS_MATCHES(RunReadOnlyQuery(path, "ATTACH '" + missing + "' AS m"), InputError,
                       Catch::Message(path + ": statement 1: unable to open database: " + missing +
                                      " (in: ATTACH '" + missing + "' AS m)"));
  CHECK_THROWS_MATCHES(RunReadOnlyQuery(path, "SELECT json_extract('not json', '$.a')"), InputError,
                       Catch::Message(path + ": statement 1: malformed JSON (in: "
                                             "SELECT json_extract('not json', "
                                             "'$.a'))"));
}

TEST_CASE("a read-only query on a missing file says so", "[results][query]") {
  TempDir dir;
  const std::string path = dir.File("nope.db");
  CHECK_THROWS_MATCHES(RunReadOnlyQuery(path, "SELECT 1"), InputError,
                       Catch::Message("no such database: " + path));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a read-only query sees committed data while a writer holds the database open",
          "[results][query]") {
  TempDir dir;
  const std::string path = MakeDatabase(dir);
  Store writer = Store::Open(path);
  writer.Submit({"live", "", "{}", {{"c", nlohmann::json::object()}}});
  Transaction in_progress(writer.connection());
  writer.connection().Exec("UPDATE runs SET status = 'failed'");
  const std::vector<ResultSet> results =
      RunReadOnlyQuery(path, "SELECT count(*) FROM runs WHERE status = 'queued'");
  CHECK(std::get<int64_t>(results.at(0).rows.at(0).at(0)) == 2);
  CHECK(QueryInt(writer.connection(), "SELECT count(*) FROM runs WHERE status = 'queued'") == 0);
}

}  // namespace
}  // namespace ablate::results
