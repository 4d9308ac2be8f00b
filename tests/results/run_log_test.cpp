#include "results/run_log.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <limits>

#include "base/error.h"
#include "results/run_records.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using nlohmann::json;
using test::TempDir;

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST_CASE("a record log line is the CRC-32 of its JSON text, then the text", "[results][run_log]") {
  // The checksum as Python computes it: '%08x' % zlib.crc32(b'{"a":1}').
  CHECK(RunLogLine(json{{"a", 1}}) == "561bacaf {\"a\":1}\n");
}

TEST_CASE("records read back in order, from any offset a read ended at", "[results][run_log]") {
  TempDir dir;
  const auto path = dir.path() / kRunLogName;
  {
    RunLogWriter writer(path);
    writer.Append({{"t", "start"}});
    writer.Append({{"t", "points"}, {"points", json::array({json::array({"x", 1, 0.5, 0})})}});
    writer.Flush();
  }
  const auto first = ReadRunLog(path, 0);
  REQUIRE(first.records.size() == 2);
  CHECK(first.records[1]["points"][0][2] == 0.5);
  CHECK(first.end == std::filesystem::file_size(path));
  {
    RunLogWriter writer(path);
    writer.Append({{"t", "end"}});
  }  // flushed when it goes
  const auto rest = ReadRunLog(path, first.end);
  REQUIRE(rest.records.size() == 1);
  CHECK(rest.records[0]["t"] == "end");
  CHECK(ReadRunLog(dir.path() / "missing.log", 0).records.empty());
  CHECK_THROWS_AS(ReadRunLog(path, rest.end + 1), InputError);
}

TEST_CASE("a record torn by a crash is left out, and what comes after it is still read",
          "[results][run_log]") {
  TempDir dir;
  const auto path = dir.path() / kRunLogName;
  {
    RunLogWriter writer(path);
    writer.Append({{"t", "start"}, {"n", 1}});
    writer.Append({{"t", "final"}, {"name", "valid/ppl"}, {"value", 12.5}});
  }
  // The crash: the second record cut in the middle.
  const std::string whole = Slurp(path);
  const std::string torn = whole.substr(0, whole.size() - 10);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << torn;
  const auto before = ReadRunLog(path, 0);
  REQUIRE(before.records.size() == 1);
  CHECK(before.records[0]["n"] == 1);
  CHECK(before.end == whole.find('\n') + 1);  // stops before the incomplete line
  // The next attempt appends after it: the torn record becomes a bad line, skipped.
  {
    RunLogWriter writer(path);
    writer.Append({{"t", "start"}, {"n", 2}});
  }
  const auto after = ReadRunLog(path, before.end);
  CHECK(after.skipped == 1);
  REQUIRE(after.records.size() == 1);
  CHECK(after.records[0]["n"] == 2);
  // A flipped byte inside a complete record fails its checksum.
  std::string text = Slurp(path);
  text[text.size() - 5] ^= 1;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  CHECK(ReadRunLog(path, before.end).records.empty());
}

TEST_CASE("a run's log records remember its final metrics across attempts", "[results][run_log]") {
  TempDir dir;
  {
    LogRecords records(dir.path());
    records.Start("node1", 42);
    records.AddPoint("train/loss", 1, 2.5);
    records.AddPoint("train/loss", 2, std::numeric_limits<double>::quiet_NaN());
    records.SetFinalMetric("eval/sst2/acc", 91.0, 10);
    records.Finish(RunStatus::kInterrupted, "stopped");
  }
  LogRecords again(dir.path());
  CHECK(again.FinalMetricNames() == std::set<std::string>{"eval/sst2/acc"});
  const auto read = ReadRunLog(dir.path() / kRunLogName, 0);
  std::vector<std::string> kinds;
  for (const auto& r : read.records) kinds.push_back(r["t"]);
  CHECK(kinds == std::vector<std::string>{"start", "points", "final", "end"});
  CHECK(read.records[1]["points"][1][2].is_null());  // NaN, as the database stores it
  CHECK(read.records[3]["status"] == "interrupted");
}

}  // namespace
}  // namespace ablate::results
