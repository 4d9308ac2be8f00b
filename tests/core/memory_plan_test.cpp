#include "core/memory_plan.h"

#include <catch2/catch.hpp>

#include "base/error.h"

using namespace ablate::core;

TEST_CASE("activation memory per token follows the model's sizes", "[memory]") {
  // BERT-base at 512 tokens, worked by hand: per layer 12 x 768 + 2 x 3072 + 2 x 12 x 512 =
  // 27,648 floats; x 12 layers = 331,776; the MLM head 2 x 0.15 x 50,265 = 15,079.5; the
  // embeddings 4 x 768 = 3,072; 349,927.5 floats = 1,399,710 bytes.
  const ActivationSizes base{12, 768, 12, 3072, 50265, 512, 0.15};
  CHECK(ActivationBytesPerToken(base) == Approx(1399710.0));
  // It is this, not the old fixed 16K-token micro-batch, that a 24 GB machine could not hold:
  // 16,384 tokens x 1.4 MB = 22.9 GB (23 GB resident was measured).
  CHECK(ActivationBytesPerToken(base) * 16384 == Approx(22.93e9).epsilon(0.01));
}

TEST_CASE("the micro-batch is the largest that fits in half of the free memory", "[memory]") {
  const double gb = 1e9;
  // 10 GB free, 1 GB of weights and optimizer state: 4.5 GB for activations, 100 MB a sequence.
  CHECK(ChooseMicroBatch(0, 64, 0.1 * gb, 1 * gb, uint64_t(10e9)).sequences == 45);
  CHECK(ChooseMicroBatch(0, 32, 0.1 * gb, 1 * gb, uint64_t(10e9)).sequences == 32);  // the cap
  CHECK(ChooseMicroBatch(0, 32, 0.1 * gb, 1 * gb, std::nullopt).sequences == 32);
  CHECK(ChooseMicroBatch(40, 32, 0.1 * gb, 1 * gb, uint64_t(10e9)).sequences == 40);
  CHECK_THROWS_WITH(ChooseMicroBatch(50, 32, 0.1 * gb, 1 * gb, uint64_t(10e9)),
                    Catch::Contains("train.micro_batch") && Catch::Contains("50 sequences") &&
                        Catch::Contains("5GB"));
  CHECK_THROWS_WITH(ChooseMicroBatch(0, 32, 6 * gb, 1 * gb, uint64_t(10e9)),
                    Catch::Contains("one sequence needs"));
}

TEST_CASE("the free memory honours an address-space limit", "[memory]") {
  const auto available = AvailableMemoryBytes();
  REQUIRE(available);
  CHECK(*available > 0);
}
