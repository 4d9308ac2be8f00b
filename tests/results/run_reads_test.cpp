#include "results/run_reads.h"

#include <catch2/catch.hpp>

#include "results/metric_writer.h"
#include "results/store.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using test::TempDir;

TEST_CASE("progress counts runs done, running and left, and the tokens they still need",
          "[results][progress]") {
  TempDir dir;
  const std::string path = dir.File("r.db");
  {
    Store store = Store::Open(path);
    store.Submit({"grid",
                  "",
                  "{}",
                  {{"a", {{"train.steps", 100}}},
                   {"b", {{"train.steps", 100}}},
                   {"c", {{"train.steps", 100}}},
                   {"d", {{"train.steps", 50}}}}});
    store.Submit({"finished", "", "{}", {{"x", {{"train.steps", 1}}}}});
    auto done = store.StartRun("finished", "x", "h", 1);
    store.Finish(done.run_id, RunStatus::kCompleted, "");
    // a: completed. b: running at step 40, 1,000 tokens an update, 500 then 700 tokens/s.
    auto a = store.StartRun("grid", "a", "h", 1);
    store.Finish(a.run_id, RunStatus::kCompleted, "");
    auto b = store.StartRun("grid", "b", "h", 2);
    MetricWriter writer = store.Metrics();
    writer.Add(b.run_id, "train/tokens_seen", 20, 20000);
    writer.Add(b.run_id, "train/tokens_seen", 40, 40000);
    writer.Add(b.run_id, "train/tokens_per_s", 20, 500);
    writer.Add(b.run_id, "train/tokens_per_s", 40, 700);
    writer.Flush();
    // c and d: queued; they take b's tokens per update.
  }
  const auto progress = ReadProgress(path);
  REQUIRE(progress.size() == 1);  // "finished" has nothing left
  const auto& p = progress[0];
  CHECK(p.experiment == "grid");
  CHECK(p.done == 1);
  CHECK(p.running == 1);
  CHECK(p.left == 2);
  // b: 60 updates to go, c: 100, d: 50, at 1,000 tokens each.
  REQUIRE(p.tokens_left);
  CHECK(*p.tokens_left == Approx(210000));
  CHECK(p.tokens_per_second == Approx(600));
}

}  // namespace
}  // namespace ablate::results
