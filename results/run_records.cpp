#include "results/run_records.h"

#include <cmath>

#include "results/clock.h"

namespace ablate::results {

using nlohmann::json;

namespace {

// JSON has no NaN or infinities: null, as the database stores NaN; infinities as strings.
json JsonNumber(double value) {
  return std::isnan(value)   ? json(nullptr)
         : std::isinf(value) ? json(value > 0 ? "inf" : "-inf")
                             : json(value);
}

}  // namespace

DatabaseRecords::DatabaseRecords(Store& store, int64_t run_id)
    : store_(store), run_id_(run_id), writer_(store.Metrics()) {}

void DatabaseRecords::AddPoint(std::string_view name, int64_t step, double value) {
  writer_.Add(run_id_, name, step, value);
}

void DatabaseRecords::Flush() { writer_.Flush(); }

void DatabaseRecords::SetFinalMetric(const std::string& name, double value, int64_t step) {
  store_.SetFinalMetric(run_id_, name, value, step);
}

std::set<std::string> DatabaseRecords::FinalMetricNames() const {
  return store_.FinalMetricNames(run_id_);
}

void DatabaseRecords::SetExampleOutcomes(const std::string& source, int64_t replicate,
                                         const ExampleOutcomes& outcomes) {
  store_.SetExampleOutcomes(run_id_, source, replicate, outcomes);
}

void DatabaseRecords::AddArtifact(const std::string& kind, const std::string& path,
                                  std::optional<int64_t> step) {
  store_.AddArtifact(run_id_, kind, path, step);
}

void DatabaseRecords::SetProvenance(const Provenance& provenance) {
  store_.SetProvenance(run_id_, provenance);
}

void DatabaseRecords::Heartbeat() { store_.Heartbeat(run_id_); }

void DatabaseRecords::Finish(RunStatus status, const std::string& reason) {
  writer_.Flush();
  store_.Finish(run_id_, status, reason);
}

LogRecords::LogRecords(const std::filesystem::path& run_dir) : writer_(run_dir / kRunLogName) {
  // A resumed attempt skips the fine-tuning tasks an earlier one finished: their scores are here.
  for (const auto& record : ReadRunLog(writer_.path(), 0).records) {
    if (record.value("t", "") == "final") finals_.insert(record.value("name", ""));
  }
}

LogRecords::~LogRecords() {
  try {
    FlushPoints();
  } catch (...) {
    // ~RunLogWriter reports what it could not write.
  }
}

void LogRecords::Start(const std::string& host, int64_t pid) {
  writer_.Append({{"t", "start"}, {"time", UnixNow()}, {"host", host}, {"pid", pid}});
  writer_.Flush();
}

void LogRecords::AddPoint(std::string_view name, int64_t step, double value) {
  points_.push_back(json::array({std::string(name), step, JsonNumber(value), UnixNow()}));
  if (std::chrono::steady_clock::now() - last_flush_ > kFlushEvery) Flush();
}

void LogRecords::FlushPoints() {
  if (points_.empty()) return;
  writer_.Append({{"t", "points"}, {"points", std::move(points_)}});
  points_ = json::array();
}

void LogRecords::Flush() {
  FlushPoints();
  writer_.Flush();
  last_flush_ = std::chrono::steady_clock::now();
}

void LogRecords::SetFinalMetric(const std::string& name, double value, int64_t step) {
  FlushPoints();
  writer_.Append(
      {{"t", "final"}, {"name", name}, {"value", value}, {"step", step}, {"time", UnixNow()}});
  writer_.Flush();
  finals_.insert(name);
}

// One record per (source, replicate), its pairs as [numerator, denominator] arrays: a few tens of
// kilobytes for thousands of examples, written once a run.
void LogRecords::SetExampleOutcomes(const std::string& source, int64_t replicate,
                                    const ExampleOutcomes& outcomes) {
  json pairs = json::array();
  for (const auto& [numerator, denominator] : outcomes)
    pairs.push_back(json::array({JsonNumber(numerator), JsonNumber(denominator)}));
  FlushPoints();
  writer_.Append({{"t", "outcomes"},
                  {"source", source},
                  {"replicate", replicate},
                  {"outcomes", std::move(pairs)},
                  {"time", UnixNow()}});
  writer_.Flush();
}

void LogRecords::AddArtifact(const std::string& kind, const std::string& path,
                             std::optional<int64_t> step) {
  writer_.Append({{"t", "artifact"},
                  {"kind", kind},
                  {"path", path},
                  {"step", step ? json(*step) : json(nullptr)},
                  {"time", UnixNow()}});
}

void LogRecords::SetProvenance(const Provenance& p) {
  writer_.Append({{"t", "provenance"},
                  {"git_commit", p.git_commit},
                  {"torch_version", p.torch_version},
                  {"device", p.device},
                  {"world_size", p.world_size},
                  {"backend", p.backend},
                  {"ranks_per_node", p.ranks_per_node}});
  writer_.Flush();
}

void LogRecords::Heartbeat() {
  writer_.Append({{"t", "heartbeat"}, {"time", UnixNow()}});
  Flush();
}

void LogRecords::Finish(RunStatus status, const std::string& reason) {
  FlushPoints();
  writer_.Append({{"t", "end"},
                  {"status", std::string(StatusName(status))},
                  {"reason", reason},
                  {"time", UnixNow()}});
  writer_.Flush();
}

}  // namespace ablate::results

namespace ablate::results {

void LogRecords::Requeued(const std::string& reason) {
  FlushPoints();
  writer_.Append({{"t", "requeue"}, {"reason", reason}, {"time", UnixNow()}});
  writer_.Flush();
}

}  // namespace ablate::results
