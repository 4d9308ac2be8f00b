// A run's records.log as a crash, a full disk or another writer may leave it, collected into a
// database. The first byte picks what the rest is: the log's raw bytes (framing: checksums, torn
// and partial lines), or record bodies, one per line, that get correct checksums so that what the
// collector does with each record's fields is reached. Reading never crashes, reading on from
// `end` finds nothing, and collecting a log either applies it or names it as a problem.
#include <string>

#include "results/collect.h"
#include "results/run_log.h"
#include "results/run_records.h"
#include "results/store.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

namespace {

std::string WithChecksums(std::string_view bodies) {
  std::string log;
  while (!bodies.empty()) {
    auto [line, rest] = fuzz::SplitAt(bodies, "\n");
    bodies = rest;
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_object())
      log += results::RunLogLine(record);
    else
      log += std::string(line) + "\n";
  }
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string bytes = data[0] & 1 ? WithChecksums(input) : std::string(input);
  const auto dir = fuzz::FreshDir("run");
  const auto path = dir / results::kRunLogName;
  fuzz::WriteBytes(path, bytes);

  results::RunLogRead read;
  fuzz::RefusesCleanly([&] { read = results::ReadRunLog(path, 0); });
  fuzz::Check(read.end <= bytes.size(), "end is inside the file");
  fuzz::Check(read.end == 0 || bytes[read.end - 1] == '\n', "end follows a complete line");
  for (const auto& record : read.records) fuzz::Check(record.is_object(), "a record is an object");
  const results::RunLogRead rest = results::ReadRunLog(path, read.end);
  fuzz::Check(rest.records.empty() && rest.end == read.end, "reading on from end finds nothing");

  if (read.records.empty()) return 0;  // nothing for the collector to apply

  // A copy of a database made once (schema, one submitted run): creating the schema per input
  // would leave little time for the records.
  static const std::filesystem::path kTemplate = [] {
    const auto made = fuzz::Scratch() / "template.db";
    results::Store store = results::Store::Open(made.string());
    store.Submit({"exp", "", "{}", {{"run-a", {{"seed", 1}}}}});
    store.connection().Exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return made;
  }();
  std::filesystem::copy_file(kTemplate, dir / "r.db");
  results::Store store = results::Store::Open((dir / "r.db").string());
  results::RegisterRemoteTask(store, "slurm", 1, path, "77", 0);
  const results::CollectResult first = results::Collect(store, "exp");
  fuzz::Check(first.records <= static_cast<int>(read.records.size()), "no record collected twice");
  const results::CollectResult again = results::Collect(store, "exp");
  fuzz::Check(again.records == 0 || !first.problems.empty(), "collecting again adds nothing");
  return 0;
}
