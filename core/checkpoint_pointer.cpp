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
#include "base/json_text.h"

namespace ablate::core {
namespace fs = std::filesystem;

namespace {

// A non-negative integer field; `required` fields must be present.
template <typename T>
T Count(const nlohmann::json& j, const char* key, const std::string& source,
        const std::string& where, bool required, T fallback) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) throw InputError(source, where + key, "is missing");
    return fallback;
  }
  const std::optional<T> n = JsonInteger<T>(*it);
  bool negative = false;
  if constexpr (std::is_signed_v<T>) negative = n && *n < 0;
  if (!n || negative) throw InputError(source, where + key, "must be a non-negative integer");
  return *n;
}

// An optional finite number; null (a NaN written by nlohmann) reads as absent.
std::optional<double> Number(const nlohmann::json& j, const char* key, const std::string& source,
                             const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw InputError(source, where + key, "must be a number");
  return it->get<double>();
}

CheckpointEntry ParseEntry(const nlohmann::json& j, const std::string& source,
                           const std::string& where) {
  if (!j.is_object())
    throw InputError(source, where.empty() ? "" : where.substr(0, where.size() - 1),
                     "must be an object");
  CheckpointEntry e;
  auto file = j.find("file");
  if (file == j.end()) throw InputError(source, where + "file", "is missing");
  if (!file->is_string()) throw InputError(source, where + "file", "must be a string");
  e.file = file->get<std::string>();
  e.step = Count<int64_t>(j, "step", source, where, true, 0);
  if (e.file != "checkpoint-" + std::to_string(e.step) + ".pt") {
    throw InputError(source, where + "file",
                     "must be \"checkpoint-" + std::to_string(e.step) +
                         ".pt\", the checkpoint of its step inside the run directory");
  }
  if (j.contains("crc32")) e.crc32 = Count<uint32_t>(j, "crc32", source, where, true, 0);
  e.position.epoch = Count<uint64_t>(j, "epoch", source, where, false, 0);
  e.position.cursor = Count<uint64_t>(j, "cursor", source, where, false, 0);
  e.sequences_seen = Count<int64_t>(j, "sequences_seen", source, where, false, 0);
  e.tokens_seen = Count<int64_t>(j, "tokens_seen", source, where, false, 0);
  e.world_size = Count<int>(j, "world_size", source, where, false, 1);
  if (e.world_size < 1) throw InputError(source, where + "world_size", "must be at least 1");
  e.micro_batch = Count<int64_t>(j, "micro_batch", source, where, false, 0);
  e.loss = Number(j, "loss", source, where);
  e.epochs = Number(j, "epochs", source, where);
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

CheckpointPointer ParseCheckpointPointer(std::string_view text, const std::string& source) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw InputError(source, "", "is not valid JSON");
  CheckpointPointer p;
  p.newest = ParseEntry(j, source, "");
  if (j.contains("previous")) {
    p.previous = ParseEntry(j["previous"], source, "previous.");
    if (p.previous->step >= p.newest.step) {
      throw InputError(source, "previous.step", "must be before the newest checkpoint's step");
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
