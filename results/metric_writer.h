// Batched writer for metric history (the metrics table): buffers points and writes each batch in
// one transaction with a reused prepared upsert. Does not write final metrics or touch runs_wide;
// Store::SetFinalMetric does that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
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
    int64_t run_id;
    int64_t step;
    double value;
    double time;
    uint32_t name;  // index into names_
  };

  uint32_t Intern(std::string_view name);
  void SortBuffer();
  void BindPoint(Statement& statement, int first_index, const Point& point) const;

  std::shared_ptr<const Connection> connection_;
  size_t batch_size_;
  // One statement inserts kRowsPerStatement points (see metric_writer.cpp); the rest of a batch
  // goes through the single-row one.
  Statement upsert_many_;
  Statement upsert_one_;
  std::vector<Point> buffer_;
  // The distinct names in buffer_. Points refer to them by index, so Add does not allocate per
  // point, and Flush binds them without copying.
  std::vector<std::string> names_;
  uint32_t last_name_ = 0;
};

}  // namespace ablate::results
