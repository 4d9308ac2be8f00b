// A run's checkpoints: the file of one (model and AdamW state, written whole or not at all), the
// newest two kept in the run directory behind the pointer that names them with their CRC-32s
// (checkpoint_pointer.h), and resuming from the newest whole one. It does not decide when a run
// checkpoints or what its state means (the trainer does); LibTorch stays out of this header.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/checkpoint_pointer.h"
#include "core/corpus.h"  // Log

namespace torch::nn {
class Module;
}

namespace ablate::core {

class AdamW;

// Writes the model's parameters and buffers and the optimizer's state to `path`, through a
// temporary file that is synced and renamed, so that a crash or a full disk never leaves a
// half-written checkpoint behind. Throws std::runtime_error naming the file that failed.
void SaveCheckpointState(const std::string& path, const torch::nn::Module& model,
                         const AdamW& optimizer);
// Restores what SaveCheckpointState wrote into an identically built model and optimizer. Throws
// InputError naming the file when it cannot be read or was written by another config.
void LoadCheckpointState(const std::string& path, torch::nn::Module& model, AdamW& optimizer);
// Restores only the model's part, e.g. the pretrained encoder that fine-tuning starts from.
void LoadModelState(const std::string& path, torch::nn::Module& model);

// Writes the checkpoint of `state.step` into `run_dir`, then moves the pointer to it (with its
// CRC-32; the newest before it becomes "previous"), then deletes every older checkpoint file.
// Returns the file written. A write that fails (a full disk) throws std::runtime_error naming the
// file and the cause, and leaves the checkpoints that were there as they were.
std::filesystem::path WriteCheckpoint(const std::filesystem::path& run_dir,
                                      const torch::nn::Module& model, const AdamW& optimizer,
                                      const CheckpointEntry& state);

// Loads the newest checkpoint of `run_dir` that is whole (its CRC-32 matches and it loads), else
// the one before it, and logs which. Returns its entry; nullopt when the run has none. Throws
// InputError naming the pointer when it is damaged or no checkpoint it names can be read.
std::optional<CheckpointEntry> LoadResumable(const std::filesystem::path& run_dir,
                                             torch::nn::Module& model, AdamW& optimizer,
                                             const Log& log);

// The newest checkpoint of `run_dir`: {step, path}. nullopt when the run has none, its pointer is
// damaged or the file it names is missing. The file's CRC-32 is not checked.
struct CheckpointInfo {
  int64_t step = 0;
  std::filesystem::path path;
};
std::optional<CheckpointInfo> LatestCheckpoint(const std::filesystem::path& run_dir);

}  // namespace ablate::core
