// Batched writer for metric history (the metrics view over metric_points, see schema.cpp): buffers
// points and writes each batch in one transaction with reused prepared statements. Does not write
// final metrics or touch runs_wide; Store::SetFinalMetric does that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "results/clock.h"
#include "results/sqlite.h"

namespace ablate::results {

// Shares its Store's connection, so a writer and its Store belong to one thread. Logging a
// (run, name, step) that is already stored replaces its value and time (a resumed run re-logs the
// steps after its checkpoint), so history never holds duplicates.
class MetricWriter {
 public:
  static constexpr size_t kDefaultBatchSize = 4096;

  explicit MetricWriter(std::shared_ptr<const Connection> connection,
                        size_t batch_size = kDefaultBatchSize);
  MetricWriter(MetricWriter&&) noexcept = default;
  // Assigning over a writer would have to flush or drop its buffer; neither is a safe default.
  MetricWriter& operator=(MetricWriter&&) = delete;
  // Flushes. Never throws: a failure is reported on stderr with the number of points lost.
  ~MetricWriter();

  // Buffers one point and flushes when the buffer reaches the batch size. NaN is stored as NULL
  // (SQLite has no NaN); +-Inf are stored as REAL infinities. When a flush fails the points stay
  // buffered, so the next Add or Flush retries them.
  void Add(int64_t run_id, std::string_view name, int64_t step, double value,
           double time = UnixNow());
  // Writes every buffered point in one transaction; all or nothing.
  void Flush();

  size_t pending() const { return buffer_.size(); }

 private:
  struct Point {
    int64_t step;
    double value;
    double time;
    uint32_t series;  // index into series_
  };

  // A (run, name) pair that buffered points use. Flush fills in id and max_step.
  struct Series {
    int64_t run_id;
    std::string name;
    int64_t id = 0;
    // The highest step stored before this batch, if any: a point at or below it may replace one.
    std::optional<int64_t> max_step;
  };

  uint32_t Intern(int64_t run_id, std::string_view name);
  void ResolveSeries();
  int64_t CreateSeries(int64_t run_id, const std::string& name);
  void OrderBatch();
  void WriteBatch();
  void Upsert(uint32_t index);
  void BindPoint(Statement& statement, int first_index, uint32_t index) const;

  std::shared_ptr<const Connection> connection_;
  size_t batch_size_;
  // New points go kRowsPerStatement at a time through insert_many_ (see metric_writer.cpp); points
  // that may replace a stored one, and the tail of a batch, go through upsert_one_.
  Statement insert_many_;
  Statement upsert_one_;
  Statement find_series_;
  Statement insert_name_;
  Statement select_name_;
  Statement insert_series_;
  std::vector<Point> buffer_;
  // The distinct (run, name) pairs in buffer_. Points refer to them by index, so Add does not
  // allocate per point, and Flush binds names without copying.
  std::vector<Series> series_;
  uint32_t last_series_ = 0;
  // The buffer_ indices Flush writes, in write order.
  std::vector<uint32_t> order_;
};

}  // namespace ablate::results
