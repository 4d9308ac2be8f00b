// A run's checkpoint pointer, RUN_DIR/checkpoint.json: which checkpoint file is the newest, where
// the data stream stood, and the CRC-32 the file had when it was written; the entry before it is
// kept as "previous" so a damaged newest checkpoint leaves one to resume from. Reading and writing
// the pointer needs no LibTorch, so that the LibTorch-free build reads (and fuzzes) it; the files
// and their life cycle are core/checkpoint.h's. A pointer that is not exactly this shape is
// refused, and a file name that would leave the run directory is never followed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/batcher.h"

namespace ablate::core {

struct CheckpointEntry {
  std::string file;  // CheckpointFileName(step), a plain name inside the run directory
  int64_t step = 0;
  std::optional<uint32_t> crc32;  // absent in pointers older than the CRC
  DataPosition position;
  int64_t sequences_seen = 0, tokens_seen = 0;
  int world_size = 1;       // ranks that trained it
  int64_t micro_batch = 0;  // the micro-batch it trained with (0: not recorded)
  // The training loss of its step and the passes over the data so far, so that a run resumed at
  // its last step still records them (absent in older pointers).
  std::optional<double> loss, epochs;
};

struct CheckpointPointer {
  CheckpointEntry newest;
  std::optional<CheckpointEntry> previous;
};

// "checkpoint-<step>.pt": the name of a run's checkpoint file of that step.
std::string CheckpointFileName(int64_t step);

// Parses the pointer's text. Throws InputError naming `source` (and the field) for anything that
// is not a pointer: not JSON, a missing or mistyped field, a negative count, or a file that is not
// a plain "checkpoint-<step>.pt" name.
CheckpointPointer ParseCheckpointPointer(std::string_view text, const std::string& source);
// The text ParseCheckpointPointer reads back.
std::string CheckpointPointerText(const CheckpointPointer& pointer);

// RUN_DIR/checkpoint.json, parsed; nullopt when the run has none. Throws as ParseCheckpointPointer.
std::optional<CheckpointPointer> ReadCheckpointPointer(const std::filesystem::path& run_dir);
std::filesystem::path CheckpointPointerPath(const std::filesystem::path& run_dir);

// CRC-32 (zlib's) of a file's bytes. Throws std::runtime_error when it cannot be read.
uint32_t FileCrc32(const std::filesystem::path& path);

}  // namespace ablate::core
