#include "results/metric_writer.h"

#include <algorithm>
#include <exception>
#include <iostream>
#include <numeric>

#include "core/error.h"

namespace ablate::results {
namespace {

// Points per execution of the multi-row statement. With one statement per point, statement setup
// (cursors, VDBE start and halt, reset) was a fifth of all instructions; 64 rows make it noise.
constexpr int kRowsPerStatement = 64;
constexpr int kColumns = 5;

// A replayed step replaces the stored point: a resumed run re-logs the steps after its checkpoint.
std::string UpsertSql(int rows) {
  std::string sql = "INSERT INTO metrics (run_id, name, step, value, time) VALUES ";
  for (int row = 0; row < rows; ++row) sql += row == 0 ? "(?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?)";
  return sql +
         " ON CONFLICT (run_id, name, step) DO UPDATE SET value = excluded.value, "
         "time = excluded.time";
}

}  // namespace

MetricWriter::MetricWriter(std::shared_ptr<const Connection> connection, size_t batch_size)
    : connection_(std::move(connection)),
      batch_size_(batch_size),
      upsert_many_(connection_->Prepare(UpsertSql(kRowsPerStatement))),
      upsert_one_(connection_->Prepare(UpsertSql(1))) {
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
  buffer_.push_back(Point{run_id, step, value, time, Intern(name)});
  if (buffer_.size() >= batch_size_) Flush();
}

void MetricWriter::Flush() {
  if (buffer_.empty()) return;
  SortBuffer();
  Transaction transaction(*connection_);
  size_t next = 0;
  for (; next + kRowsPerStatement <= buffer_.size(); next += kRowsPerStatement) {
    upsert_many_.Reset();
    for (int row = 0; row < kRowsPerStatement; ++row) {
      BindPoint(upsert_many_, row * kColumns + 1, buffer_[next + static_cast<size_t>(row)]);
    }
    upsert_many_.Run();
  }
  for (; next < buffer_.size(); ++next) {
    upsert_one_.Reset();
    BindPoint(upsert_one_, 1, buffer_[next]);
    upsert_one_.Run();
  }
  transaction.Commit();
  buffer_.clear();
  names_.clear();
}

// Names are bound without copying: names_ does not change until the batch is written.
void MetricWriter::BindPoint(Statement& statement, int first_index, const Point& point) const {
  statement.BindInt(first_index, point.run_id)
      .BindStaticText(first_index + 1, names_[point.name])
      .BindInt(first_index + 2, point.step)
      .BindDouble(first_index + 3, point.value)
      .BindDouble(first_index + 4, point.time);
}

// Orders the batch as the metrics primary key (run_id, name, step) does, so that consecutive
// inserts land on the same B-tree pages. Stable, so that of two points for one step the one added
// last is still written last and wins.
void MetricWriter::SortBuffer() {
  std::vector<uint32_t> by_name(names_.size());
  std::iota(by_name.begin(), by_name.end(), 0);
  std::sort(by_name.begin(), by_name.end(),
            [this](uint32_t a, uint32_t b) { return names_[a] < names_[b]; });
  std::vector<uint32_t> rank(names_.size());
  for (uint32_t i = 0; i < by_name.size(); ++i) rank[by_name[i]] = i;
  std::stable_sort(buffer_.begin(), buffer_.end(), [&rank](const Point& a, const Point& b) {
    if (a.run_id != b.run_id) return a.run_id < b.run_id;
    if (a.name != b.name) return rank[a.name] < rank[b.name];
    return a.step < b.step;
  });
}

// Scans from the last name found: a training loop logs the same few names in the same order every
// step, so the first or second comparison hits.
uint32_t MetricWriter::Intern(std::string_view name) {
  const auto count = static_cast<uint32_t>(names_.size());
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t index = (last_name_ + i) % count;
    if (names_[index] == name) return last_name_ = index;
  }
  names_.emplace_back(name);
  return last_name_ = count;
}

}  // namespace ablate::results
