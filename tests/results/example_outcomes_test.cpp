// Per-example outcomes: their encoding, and recording and reading them through the database.
#include "results/example_outcomes.h"

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "base/error.h"
#include "results/run_reads.h"
#include "results/run_records.h"
#include "results/store.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using test::QueryInt;
using test::TempDir;

// Bitwise equality, so NaN equals NaN and -0 differs from 0.
bool SameBits(const ExampleOutcomes& a, const ExampleOutcomes& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::bit_cast<uint64_t>(a[i].first) != std::bit_cast<uint64_t>(b[i].first) ||
        std::bit_cast<uint64_t>(a[i].second) != std::bit_cast<uint64_t>(b[i].second)) {
      return false;
    }
  }
  return true;
}

// n outcomes as a classification accuracy has them: (100 or 0, 1), right about 3 times in 4.
ExampleOutcomes Accuracy(int n) {
  ExampleOutcomes out;
  for (int i = 0; i < n; ++i) out.emplace_back((i * 7919) % 4 ? 100.0 : 0.0, 1.0);
  return out;
}

TEST_CASE("example outcomes decode to exactly what was encoded", "[results][outcomes]") {
  const double inf = std::numeric_limits<double>::infinity();
  const ExampleOutcomes values = {{0.1, 3},    {-0.0, 1},       {std::nan(""), 7},
                                  {inf, -inf}, {1e-310, 1e308}, {66.66666666666667, 1}};
  CHECK(SameBits(DecodeExampleOutcomes(EncodeExampleOutcomes(values)), values));
  CHECK(DecodeExampleOutcomes(EncodeExampleOutcomes({})).empty());
  const ExampleOutcomes many = Accuracy(10000);
  CHECK(SameBits(DecodeExampleOutcomes(EncodeExampleOutcomes(many)), many));
  // The layout the schema documents: format 1, the count, then zlib.
  const std::string blob = EncodeExampleOutcomes(values);
  CHECK(blob[0] == 1);
  CHECK(blob.substr(1, 4) == std::string("\x06\0\0\0", 4));
  CHECK(static_cast<unsigned char>(blob[5]) == 0x78);  // a zlib header
}

TEST_CASE("0/1 outcomes with equal denominators take a few bits an example",
          "[results][outcomes]") {
  // 872 examples: SST-2's dev set. 16 bytes an example unencoded.
  CHECK(EncodeExampleOutcomes(Accuracy(872)).size() < 872 / 2);
}

TEST_CASE("stored outcomes that are not ablate's encoding are refused, not misread",
          "[results][outcomes]") {
  const std::string good = EncodeExampleOutcomes(Accuracy(100));
  auto refused = [](const std::string& blob, const std::string& why) {
    CHECK_THROWS_WITH(DecodeExampleOutcomes(blob), Catch::Contains(why));
  };
  refused("", "0 bytes");
  refused(std::string("\x02") + good.substr(1), "format 2 (this ablate reads format 1)");
  refused(good.substr(0, good.size() - 3), "zlib error");
  std::string more = good, fewer = good;
  more[1] = 101;  // one example more than the stream holds
  refused(more, "fewer values than the 101 examples it names");
  fewer[1] = 99;
  refused(fewer, "zlib error");
  std::string huge = good;
  huge[4] = '\x7f';  // two billion examples claimed in a few bytes: not allocated
  refused(huge, "examples in");
}

TEST_CASE(
    "recorded outcomes read back by run replicate and source, and recording again replaces them",
    "[results][outcomes]") {
  TempDir dir;
  const std::string path = dir.File("r.db");
  {
    Store store = Store::Open(path);
    store.Submit({"exp", "", "{}", {{"a", {{"seed", 1}}}, {"b", {{"seed", 2}}}}});
    const int64_t a = store.StartRun("exp", "a", "h", 1).run_id;
    const int64_t b = store.StartRun("exp", "b", "h", 1).run_id;
    DatabaseRecords records(store, a);
    records.SetExampleOutcomes("valid/ppl", 0, {{120.5, 40}, {99.25, 38}});
    records.SetExampleOutcomes("eval/sst2/acc", 1, {{100, 1}, {0, 1}, {100, 1}});
    records.SetExampleOutcomes("eval/sst2/acc", 2, {{0, 1}, {0, 1}, {0, 1}});
    records.SetExampleOutcomes("eval/sst2/acc", 2, {{100, 1}, {100, 1}, {0, 1}});  // replaces
    DatabaseRecords(store, b).SetExampleOutcomes("eval/sst2/acc", 1, {{0, 1}, {0, 1}, {0, 1}});
    CHECK(QueryInt(store.connection(), "SELECT count(*) FROM example_outcomes") == 4);
    CHECK_THROWS_AS(records.SetExampleOutcomes("", 0, {}), InputError);
  }
  const auto acc = ReadExampleOutcomes(path, {1, 2, 99}, "eval/sst2/acc");
  REQUIRE(acc.size() == 2);
  REQUIRE(acc.at(1).size() == 2);
  CHECK(acc.at(1).at(1) == ExampleOutcomes{{100, 1}, {0, 1}, {100, 1}});
  CHECK(acc.at(1).at(2) == ExampleOutcomes{{100, 1}, {100, 1}, {0, 1}});
  CHECK(acc.at(2).at(1) == ExampleOutcomes{{0, 1}, {0, 1}, {0, 1}});
  const auto ppl = ReadExampleOutcomes(path, {1}, "valid/ppl");
  CHECK(ppl.at(1).at(0) == ExampleOutcomes{{120.5, 40}, {99.25, 38}});
  CHECK(ReadExampleOutcomes(path, {2}, "valid/ppl").empty());
  CHECK(ReadExampleOutcomes(path, {}, "valid/ppl").empty());
  // Deleting a run deletes its outcomes.
  {
    Store store = Store::Open(path);
    store.connection().Exec("DELETE FROM runs WHERE key = 'b'");
    CHECK(QueryInt(store.connection(), "SELECT count(*) FROM example_outcomes") == 3);
  }
}

TEST_CASE("a database from before example outcomes reads as having none, and a bad record is named",
          "[results][outcomes]") {
  TempDir dir;
  const std::string path = dir.File("r.db");
  {
    Store store = Store::Open(path);
    store.Submit({"exp", "", "{}", {{"a", {{"seed", 1}}}}});
    const int64_t a = store.StartRun("exp", "a", "h", 1).run_id;
    store.SetExampleOutcomes(a, "eval/x/acc", 3, {{100, 1}});
    store.connection().Exec("UPDATE example_outcomes SET outcomes = x'0102'");
  }
  CHECK_THROWS_WITH(ReadExampleOutcomes(path, {1}, "eval/x/acc"),
                    Catch::Contains(path) && Catch::Contains("run 1, eval/x/acc, replicate 3"));
  {
    const Connection db = Connection::Open(path, Connection::Mode::kReadWrite);
    db.Exec("DROP TABLE example_outcomes; PRAGMA user_version = 4");
  }
  CHECK(ReadExampleOutcomes(path, {1}, "eval/x/acc").empty());
}

}  // namespace
}  // namespace ablate::results
