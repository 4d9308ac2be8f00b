#include "core/checkpoint.h"

#include <torch/nn/module.h>
#include <torch/serialize.h>

#include <stdexcept>
#include <vector>

#include "base/atomic_file.h"
#include "base/error.h"
#include "core/optimizer.h"

namespace ablate::core {
namespace fs = std::filesystem;
namespace {

// Loads the checkpoint at `path` into `model`, then hands its optimizer archive to `optimizer`
// (when given). Errors name the file.
void LoadState(const std::string& path, torch::nn::Module& model, AdamW* optimizer) {
  const auto parameters = model.parameters();
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& p : parameters) shapes.push_back(p.sizes().vec());
  try {
    torch::serialize::InputArchive archive, model_archive;
    archive.load_from(path, parameters.empty() ? torch::kCPU : parameters[0].device());
    archive.read("model", model_archive);
    model.load(model_archive);
    // Module::load swaps in the stored tensors whatever their shape; a different config shows here.
    for (size_t i = 0; i < parameters.size(); ++i) {
      if (parameters[i].sizes().vec() != shapes[i]) {
        throw InputError("", "model", "parameter shapes differ from the model's (another config?)");
      }
    }
    if (optimizer) {
      torch::serialize::InputArchive optimizer_archive;
      archive.read("optimizer", optimizer_archive);
      optimizer->Load(optimizer_archive);
    }
  } catch (const InputError& e) {
    throw InputError(path, e.path(), e.message());
  } catch (const c10::Error& e) {
    throw InputError(path, "", e.what_without_backtrace());
  }
}

}  // namespace

void SaveCheckpointState(const std::string& path, const torch::nn::Module& model,
                         const AdamW& optimizer) {
  torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
  model.save(model_archive);
  optimizer.Save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  // LibTorch's file writer throws from its destructor when a write fails (a full disk), which
  // ends the process; so the archive goes through AtomicFile, which keeps the first error and
  // reports it from Commit(), after LibTorch is done.
  AtomicFile file(path);
  archive.save_to([&](const void* data, size_t size) -> size_t {
    file.Write(data, size);
    return size;
  });
  file.Commit();
}

void LoadCheckpointState(const std::string& path, torch::nn::Module& model, AdamW& optimizer) {
  LoadState(path, model, &optimizer);
}

void LoadModelState(const std::string& path, torch::nn::Module& model) {
  LoadState(path, model, nullptr);
}

// The newest checkpoint and the one before it are kept: a newest one that turns out damaged
// leaves the run its predecessor to resume from.
fs::path WriteCheckpoint(const fs::path& run_dir, const torch::nn::Module& model,
                         const AdamW& optimizer, const CheckpointEntry& state) {
  const fs::path file = run_dir / CheckpointFileName(state.step);
  try {
    SaveCheckpointState(file.string(), model, optimizer);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw std::runtime_error("cannot write checkpoint " + file.string() + " (" +
                             what.substr(0, what.find('\n')) + ")");
  }
  CheckpointPointer pointer;
  pointer.newest = state;
  pointer.newest.file = file.filename().string();
  pointer.newest.crc32 = FileCrc32(file);
  try {
    if (auto old = ReadCheckpointPointer(run_dir); old && old->newest.step < state.step)
      pointer.previous = old->newest;
  } catch (const InputError&) {
    // A damaged pointer is replaced; the checkpoint it named is no longer kept.
  }
  // The pointer moves only after the new checkpoint is complete; then older ones can go.
  WriteFileAtomically(CheckpointPointerPath(run_dir), CheckpointPointerText(pointer));
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    auto name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) == 0 && entry.path() != file &&
        (!pointer.previous || name != pointer.previous->file))
      fs::remove(entry.path());
  }
  return file;
}

std::optional<CheckpointEntry> LoadResumable(const fs::path& run_dir, torch::nn::Module& model,
                                             AdamW& optimizer, const Log& log) {
  std::optional<CheckpointPointer> pointer;
  try {
    pointer = ReadCheckpointPointer(run_dir);
  } catch (const InputError& e) {
    throw InputError(CheckpointPointerPath(run_dir).string(), "",
                     "is not a checkpoint pointer (" + e.message() +
                         "): restore it, or delete the run directory's checkpoint files to start "
                         "the run over");
  }
  if (!pointer) return std::nullopt;
  std::vector<CheckpointEntry> candidates = {pointer->newest};
  if (pointer->previous) candidates.push_back(*pointer->previous);
  std::string failures;
  for (const auto& c : candidates) {
    const fs::path file = run_dir / c.file;
    try {
      if (!fs::exists(file)) throw InputError(file.string(), "", "is missing");
      // A pointer written before CRCs were recorded names files that are loaded unchecked.
      if (c.crc32 && FileCrc32(file) != *c.crc32) {
        throw InputError(file.string(), "",
                         "is damaged: its CRC-32 is not the one recorded when it was written");
      }
      LoadCheckpointState(file.string(), model, optimizer);
      if (log) {
        log((failures.empty() ? "" : failures + "; ") + "resuming from " + file.string() +
            " at step " + std::to_string(c.step) + (failures.empty() ? "" : " instead"));
      }
      return c;
    } catch (const InputError& e) {
      failures += (failures.empty() ? "" : "; ") + std::string(e.what());
    }
  }
  throw InputError(CheckpointPointerPath(run_dir).string(), "",
                   "no checkpoint of this run can be read (" + failures +
                       "): restore it, or delete the run directory's checkpoint files to start "
                       "the run over");
}

std::optional<CheckpointInfo> LatestCheckpoint(const fs::path& run_dir) {
  std::optional<CheckpointPointer> pointer;
  try {
    pointer = ReadCheckpointPointer(run_dir);
  } catch (const InputError&) {
    return std::nullopt;
  }
  if (!pointer) return std::nullopt;
  fs::path file = run_dir / pointer->newest.file;
  if (!fs::exists(file)) return std::nullopt;
  return CheckpointInfo{pointer->newest.step, file};
}

}  // namespace ablate::core
