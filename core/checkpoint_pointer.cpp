#include "core/checkpoint_pointer.h"

#include <zlib.h>

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "base/error.h"
#include "base/json_at.h"
#include "base/json_text.h"

namespace ablate::core {
namespace fs = std::filesystem;

namespace {

// A non-negative integer field; `required` fields must be present.
template <typename T>
T Count(const JsonAt& j, const char* key, bool required, T fallback) {
  const JsonAt v = j[key];
  if (v.Missing() && !required) return fallback;
  const std::optional<T> n = JsonInteger<T>(v.value());
  bool negative = false;
  if constexpr (std::is_signed_v<T>) negative = n && *n < 0;
  v.Expect(n && !negative, "a non-negative integer");
  return *n;
}

// An optional finite number; null (a NaN written by nlohmann) reads as absent.
std::optional<double> Number(const JsonAt& j, const char* key) {
  const JsonAt v = j[key];
  if (v.Missing() || v.value().is_null()) return std::nullopt;
  return v.Number();
}

CheckpointEntry ParseEntry(const JsonAt& j) {
  j.ExpectObject();
  CheckpointEntry e;
  e.file = j["file"].String();
  e.step = Count<int64_t>(j, "step", true, 0);
  if (e.file != CheckpointFileName(e.step)) {
    j["file"].Fail("must be \"" + CheckpointFileName(e.step) +
                   "\", the checkpoint of its step inside the run directory");
  }
  if (j.Has("crc32")) e.crc32 = Count<uint32_t>(j, "crc32", true, 0);
  e.position.epoch = Count<uint64_t>(j, "epoch", false, 0);
  e.position.cursor = Count<uint64_t>(j, "cursor", false, 0);
  e.sequences_seen = Count<int64_t>(j, "sequences_seen", false, 0);
  e.tokens_seen = Count<int64_t>(j, "tokens_seen", false, 0);
  e.world_size = Count<int>(j, "world_size", false, 1);
  if (e.world_size < 1) j["world_size"].Fail("must be at least 1");
  e.micro_batch = Count<int64_t>(j, "micro_batch", false, 0);
  e.loss = Number(j, "loss");
  e.epochs = Number(j, "epochs");
  return e;
}

nlohmann::json EntryJson(const CheckpointEntry& e) {
  nlohmann::json j = {{"step", e.step},
                      {"file", e.file},
                      {"epoch", e.position.epoch},
                      {"cursor", e.position.cursor},
                      {"sequences_seen", e.sequences_seen},
                      {"tokens_seen", e.tokens_seen},
                      {"world_size", e.world_size},
                      {"micro_batch", e.micro_batch}};
  if (e.crc32) j["crc32"] = *e.crc32;
  if (e.loss) j["loss"] = *e.loss;
  if (e.epochs) j["epochs"] = *e.epochs;
  return j;
}

}  // namespace

std::string CheckpointFileName(int64_t step) {
  return "checkpoint-" + std::to_string(step) + ".pt";
}

CheckpointPointer ParseCheckpointPointer(std::string_view text, const std::string& source) {
  const auto document = ParseJsonText(std::string(text), source);
  const JsonAt root(document, source);
  CheckpointPointer p;
  p.newest = ParseEntry(root);
  if (auto previous = root.Find("previous")) {
    p.previous = ParseEntry(*previous);
    if (p.previous->step >= p.newest.step) {
      (*previous)["step"].Fail("must be before the newest checkpoint's step");
    }
  }
  return p;
}

std::string CheckpointPointerText(const CheckpointPointer& pointer) {
  nlohmann::json j = EntryJson(pointer.newest);
  if (pointer.previous) j["previous"] = EntryJson(*pointer.previous);
  return j.dump(2) + "\n";
}

fs::path CheckpointPointerPath(const fs::path& run_dir) { return run_dir / "checkpoint.json"; }

std::optional<CheckpointPointer> ReadCheckpointPointer(const fs::path& run_dir) {
  const fs::path path = CheckpointPointerPath(run_dir);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return ParseCheckpointPointer(text.str(), path.string());
}

uint32_t FileCrc32(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::vector<char> buffer(1 << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(in.gcount()));
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace ablate::core
