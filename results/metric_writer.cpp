#include "results/metric_writer.h"

#include <algorithm>
#include <exception>
#include <iostream>
#include <numeric>

#include "base/error.h"

namespace ablate::results {
namespace {

// Points per execution of the multi-row insert. With one statement per point, statement setup
// (cursors, VDBE start and halt, reset) was a fifth of all instructions; 64 rows make it noise.
constexpr int kRowsPerStatement = 64;
constexpr int kColumns = 4;

// OR FAIL rather than the default ABORT, and metric_points' foreign key is deferred: with no
// constraint that can abort it half-way, a multi-row INSERT needs no statement journal (a copy of
// every page it changes, written to a temporary file). A failure still fails the whole batch:
// Flush throws and its Transaction rolls back. An upsert always needs the journal, so points that
// may replace a stored one go through upsert_one_ instead.
std::string InsertSql(int rows) {
  std::string sql = "INSERT OR FAIL INTO metric_points (series_id, step, value, time) VALUES ";
  for (int row = 0; row < rows; ++row) sql += row == 0 ? "(?, ?, ?, ?)" : ", (?, ?, ?, ?)";
  return sql;
}

// A replayed step replaces the stored point: a resumed run re-logs the steps after its checkpoint.
// One row at a time needs no statement journal.
constexpr std::string_view kUpsertSql =
    "INSERT INTO metric_points (series_id, step, value, time) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (series_id, step) DO UPDATE SET value = excluded.value, time = excluded.time";

constexpr std::string_view kFindSeriesSql =
    "SELECT s.id, (SELECT max(p.step) FROM metric_points p WHERE p.series_id = s.id) "
    "FROM metric_series s JOIN metric_names n ON n.id = s.name_id "
    "WHERE s.run_id = ?1 AND n.name = ?2";

}  // namespace

MetricWriter::MetricWriter(std::shared_ptr<const Connection> connection, size_t batch_size)
    : connection_(std::move(connection)),
      batch_size_(batch_size),
      insert_many_(connection_->Prepare(InsertSql(kRowsPerStatement))),
      upsert_one_(connection_->Prepare(kUpsertSql)),
      find_series_(connection_->Prepare(kFindSeriesSql)),
      insert_name_(connection_->Prepare(
          "INSERT INTO metric_names (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")),
      select_name_(connection_->Prepare("SELECT id FROM metric_names WHERE name = ?1")),
      insert_series_(connection_->Prepare(
          "INSERT INTO metric_series (run_id, name_id) VALUES (?1, ?2) RETURNING id")) {
  ABLATE_CHECK(batch_size_ > 0, "metric batch size must be positive");
  buffer_.reserve(batch_size_);
}

MetricWriter::~MetricWriter() {
  try {
    Flush();
  } catch (const std::exception& e) {
    std::cerr << "ablate: lost " << buffer_.size() << " metric points: " << e.what() << "\n";
  }
}

void MetricWriter::Add(int64_t run_id, std::string_view name, int64_t step, double value,
                       double time) {
  buffer_.push_back(Point{step, value, time, Intern(run_id, name)});
  if (buffer_.size() >= batch_size_) Flush();
}

void MetricWriter::Flush() {
  if (buffer_.empty()) return;
  Transaction transaction(*connection_);
  ResolveSeries();
  OrderBatch();
  WriteBatch();
  transaction.Commit();
  buffer_.clear();
  series_.clear();
  last_series_ = 0;
}

// Looks up or creates the series of every (run, name) in the batch, with the highest step each has
// stored. Done for every batch inside its transaction rather than cached across batches, so that
// neither another process nor a batch that rolled back can leave a stale id behind; it costs one
// indexed query per series per batch.
void MetricWriter::ResolveSeries() {
  for (Series& series : series_) {
    find_series_.Reset();
    find_series_.BindInt(1, series.run_id).BindStaticText(2, series.name);
    if (find_series_.Step()) {
      series.id = find_series_.ColumnInt(0);
      series.max_step.reset();
      if (!find_series_.ColumnIsNull(1)) series.max_step = find_series_.ColumnInt(1);
    } else {
      series.id = CreateSeries(series.run_id, series.name);
      series.max_step.reset();
    }
    // A statement left stepping would hold its read of the database open past the commit.
    find_series_.Reset();
  }
}

// Fails with SQLite's "FOREIGN KEY constraint failed" when the run does not exist.
int64_t MetricWriter::CreateSeries(int64_t run_id, const std::string& name) {
  insert_name_.Reset();
  insert_name_.BindStaticText(1, name).Run();
  select_name_.Reset();
  ABLATE_CHECK(select_name_.BindStaticText(1, name).Step(), "metric name not stored: " + name);
  const int64_t name_id = select_name_.ColumnInt(0);
  select_name_.Reset();
  insert_series_.Reset();
  ABLATE_CHECK(insert_series_.BindInt(1, run_id).BindInt(2, name_id).Step(),
               "metric series not stored: " + name);
  const int64_t series_id = insert_series_.ColumnInt(0);
  insert_series_.Run();
  return series_id;
}

// Sets order_ to the points to write, ordered as metric_points' primary key (series_id, step) so
// that consecutive inserts land on the same B-tree pages, and of several points for one step only
// the one added last. A counting sort by series keeps the points of each series in the order they
// were added, which a training loop makes the order of steps already.
void MetricWriter::OrderBatch() {
  std::vector<uint32_t> by_id(series_.size());
  std::iota(by_id.begin(), by_id.end(), 0U);
  std::sort(by_id.begin(), by_id.end(),
            [this](uint32_t a, uint32_t b) { return series_[a].id < series_[b].id; });
  std::vector<uint32_t> rank(series_.size());
  for (uint32_t k = 0; k < by_id.size(); ++k) rank[by_id[k]] = k;
  // The points of the k-th series by id go to order_[offsets[k]] up to order_[offsets[k + 1]].
  std::vector<uint32_t> offsets(series_.size() + 1, 0);
  for (const Point& point : buffer_) ++offsets[rank[point.series] + 1];
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  std::vector<uint32_t> next(offsets.begin(), offsets.end() - 1);
  order_.resize(buffer_.size());
  for (uint32_t i = 0; i < buffer_.size(); ++i) order_[next[rank[buffer_[i].series]]++] = i;

  const auto by_step = [this](uint32_t a, uint32_t b) { return buffer_[a].step < buffer_[b].step; };
  for (size_t k = 0; k < series_.size(); ++k) {
    const auto first = order_.begin() + offsets[k];
    const auto last = order_.begin() + offsets[k + 1];
    if (!std::is_sorted(first, last, by_step)) std::stable_sort(first, last, by_step);
  }
  size_t kept = 0;
  for (size_t i = 0; i < order_.size(); ++i) {
    const bool replaced = i + 1 < order_.size() &&
                          buffer_[order_[i]].series == buffer_[order_[i + 1]].series &&
                          buffer_[order_[i]].step == buffer_[order_[i + 1]].step;
    if (!replaced) order_[kept++] = order_[i];
  }
  order_.resize(kept);
}

// No stored point can conflict with a point above its series' max_step, and order_ holds each
// step once, so those go through the multi-row insert; the rest may replace a stored point.
void MetricWriter::WriteBatch() {
  const auto may_replace = [this](uint32_t index) {
    const Point& point = buffer_[index];
    const std::optional<int64_t>& max_step = series_[point.series].max_step;
    return max_step && point.step <= *max_step;
  };
  const auto new_points = std::stable_partition(order_.begin(), order_.end(), may_replace);
  auto next = order_.begin();
  for (; next != new_points; ++next) Upsert(*next);
  for (; order_.end() - next >= kRowsPerStatement; next += kRowsPerStatement) {
    insert_many_.Reset();
    for (int row = 0; row < kRowsPerStatement; ++row) {
      BindPoint(insert_many_, row * kColumns + 1, next[row]);
    }
    insert_many_.Run();
  }
  for (; next != order_.end(); ++next) Upsert(*next);
}

void MetricWriter::Upsert(uint32_t index) {
  upsert_one_.Reset();
  BindPoint(upsert_one_, 1, index);
  upsert_one_.Run();
}

void MetricWriter::BindPoint(Statement& statement, int first_index, uint32_t index) const {
  const Point& point = buffer_[index];
  statement.BindInt(first_index, series_[point.series].id)
      .BindInt(first_index + 1, point.step)
      .BindDouble(first_index + 2, point.value)
      .BindDouble(first_index + 3, point.time);
}

// Scans from the last series found: a training loop logs the same few names in the same order
// every step, so the first or second comparison hits.
uint32_t MetricWriter::Intern(int64_t run_id, std::string_view name) {
  const auto count = static_cast<uint32_t>(series_.size());
  uint32_t index = last_series_;
  for (uint32_t i = 0; i < count; ++i) {
    if (series_[index].run_id == run_id && series_[index].name == name) {
      return last_series_ = index;
    }
    if (++index == count) index = 0;
  }
  series_.push_back(Series{run_id, std::string(name), 0, std::nullopt});
  return last_series_ = count;
}

}  // namespace ablate::results
