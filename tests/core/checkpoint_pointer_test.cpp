#include "core/checkpoint_pointer.h"

#include <catch2/catch.hpp>

#include "base/error.h"

using ablate::InputError;
using namespace ablate::core;

namespace {

std::string Error(const std::string& text) {
  try {
    ParseCheckpointPointer(text, "checkpoint.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("a checkpoint pointer reads back what was written, previous entry included",
          "[checkpoint]") {
  CheckpointPointer p;
  p.newest = {"checkpoint-200.pt", 200, 0xdeadbeefu, {1, 6400}, 6400, 670998, 2, 16, 5.25, 1.5};
  p.previous = CheckpointEntry{
      "checkpoint-100.pt", 100,         std::nullopt, {0, 3200}, 3200, 335000, 2, 16,
      std::nullopt,        std::nullopt};
  const CheckpointPointer back = ParseCheckpointPointer(CheckpointPointerText(p), "x");
  CHECK(back.newest.file == "checkpoint-200.pt");
  CHECK(back.newest.crc32 == 0xdeadbeefu);
  CHECK(back.newest.position == DataPosition{1, 6400});
  CHECK(back.newest.tokens_seen == 670998);
  CHECK(back.newest.world_size == 2);
  CHECK(back.newest.micro_batch == 16);
  CHECK(back.newest.loss == 5.25);
  CHECK(back.newest.epochs == 1.5);
  REQUIRE(back.previous);
  CHECK(back.previous->step == 100);
  CHECK_FALSE(back.previous->crc32);
  CHECK_FALSE(back.previous->loss);
  // A pointer written before CRCs, world sizes and micro-batches were recorded still reads.
  const auto old = ParseCheckpointPointer(
      R"({"cursor": 6400, "epoch": 0, "file": "checkpoint-200.pt", "sequences_seen": 6400,
          "step": 200, "tokens_seen": 670998})",
      "x");
  CHECK(old.newest.world_size == 1);
  CHECK_FALSE(old.newest.crc32);
}

TEST_CASE("a checkpoint pointer that names a file outside the run or is mistyped is refused",
          "[checkpoint]") {
  CHECK(Error(R"({"file": "../../other/checkpoint-5.pt", "step": 5})") ==
        "checkpoint.json: /file: must be \"checkpoint-5.pt\", the checkpoint of its step inside "
        "the run directory");
  CHECK(Error(R"({"file": "/etc/passwd", "step": 5})").find("must be \"checkpoint-5.pt\"") !=
        std::string::npos);
  CHECK(Error(R"({"file": "checkpoint-5.pt", "step": "5"})") ==
        "checkpoint.json: /step: expected a non-negative integer, got a string \"5\"");
  CHECK(Error(R"({"file": "checkpoint-5.pt", "step": 5, "crc32": 4294967296})") ==
        "checkpoint.json: /crc32: expected a non-negative integer, got a number 4294967296");
  CHECK(Error(R"({"file": "checkpoint-5.pt", "step": 5, "world_size": 0})") ==
        "checkpoint.json: /world_size: must be at least 1");
  CHECK(Error(R"({"file": "checkpoint-5.pt", "step": 5,
                  "previous": {"file": "checkpoint-9.pt", "step": 9}})") ==
        "checkpoint.json: /previous/step: must be before the newest checkpoint's step");
  CHECK(Error("[1]") == "checkpoint.json: /: expected an object, got an array [1]");
  CHECK(Error(R"({"step": 5})") == "checkpoint.json: /file: missing: expected a string");
  CHECK_THAT(Error("{"), Catch::StartsWith("checkpoint.json:1:2: malformed JSON"));
}
