// Shared plumbing of the `ablate` subcommands: option parsing with --help, and dispatch from a
// table of subcommands. Each subcommand lives in its own cmd_*.cpp and keeps the real work in the
// libraries. Two binaries share it: `ablate` (main.cpp), which runs every command that does not
// train and never loads LibTorch, and `ablate-train` (main_train.cpp), which it execs for the
// commands that do.
#pragma once

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiments/grid.h"
#include "results/query.h"
#include "runner/worker.h"

namespace ablate::runner {

namespace po = boost::program_options;

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args& args);  // null: ablate-train runs it
};

// The training binary's file name; it sits beside `ablate`.
inline constexpr const char* kTrainingBinary = "ablate-train";

// main() of both binaries: --help, --version, the command named by argv[1] (exec'ing the training
// binary for a command without `run`), and exit codes from failures (0 ok, 1 runtime failure,
// 2 bad input).
int Dispatch(int argc, char** argv, const std::vector<Command>& commands);

// Parses `args` against `options` (plus -h/--help) and the positional names in order ("name..."
// takes all the remaining ones). Returns
// nullopt after printing `usage` and the options when --help was given. Malformed options throw
// boost's errors, which main() reports as bad input (exit 2).
std::optional<po::variables_map> ParseOptions(const Args& args, const std::string& usage,
                                              po::options_description options,
                                              const std::vector<std::string>& positional = {});

int CmdExpand(const Args& args);
int CmdSubmit(const Args& args);
int CmdSql(const Args& args);
int CmdReport(const Args& args);
int CmdStatus(const Args& args);
int CmdParams(const Args& args);
int CmdSchema(const Args& args);
int CmdData(const Args& args);
int CmdTokenize(const Args& args);
int CmdTrain(const Args& args);
int CmdRun(const Args& args);
int CmdWorker(const Args& args);
int CmdTask(const Args& args);
int CmdCollect(const Args& args);
int CmdMerge(const Args& args);
int CmdExport(const Args& args);

// The options `ablate worker` and `ablate run` share (run and data directories, device, threads,
// --max-runs), and the WorkerOptions they mean (db from --db).
void AddWorkerOptions(po::options_description& options);
WorkerOptions WorkerOptionsFrom(const po::variables_map& vm);

// --set NAME=VALUE (repeatable), and the grid file of the "grid" option with the overrides in its
// base (experiments::ApplyOverrides).
void AddSetOption(po::options_description& options);
experiments::Overrides OverridesFrom(const po::variables_map& vm);
experiments::GridSpec LoadGridWithOverrides(const po::variables_map& vm);

// A run config file: one element of `ablate expand --format json`, or its "params" object.
nlohmann::json ReadRunConfigFile(const std::string& path);

// Writes a run's parameters to RUN_DIR/config.json (creating the directory) so that a reader sees
// the old file or the new, never half of one: in a Slurm element every rank reads the file the
// head wrote while rank 0 writes it again. Throws std::runtime_error when it cannot be written.
void WriteRunConfigFile(const std::string& run_dir, const nlohmann::json& params);

}  // namespace ablate::runner

namespace ablate::runner {

// A canonical parameter value as a typed table cell (bools as 0/1, like the params table).
results::Value JsonToCell(const nlohmann::json& value);

}  // namespace ablate::runner
