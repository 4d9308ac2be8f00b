// Shared plumbing of the `ablate` subcommands: option parsing with --help, and dispatch from a
// table of subcommands. Each subcommand lives in its own cmd_*.cpp and keeps the real work in the
// libraries. Two binaries share it: `ablate` (main.cpp), which runs every command that does not
// train and never loads LibTorch, and `ablate-train` (main_train.cpp), which it execs for the
// commands that do.
#pragma once

#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <map>
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

// Every command of both binaries, in the order `ablate --help` lists them (cli.cpp): the one
// command table. `trains` marks the commands that need LibTorch, which `ablate-train` runs.
struct Command {
  const char* name;
  const char* summary;
  bool trains;
};
const std::vector<Command>& Commands();

using CommandFunction = int (*)(const Args& args);

// The training binary's file name; it sits beside `ablate`.
inline constexpr const char* kTrainingBinary = "ablate-train";

// main() of both binaries: --help, --version, the command named by argv[1] run by its function in
// `implemented` (a command that trains and is not implemented here execs the training binary in
// this process's place), a did-you-mean for a misspelt command, and exit codes from failures (0
// ok, 1 runtime failure, 2 bad input).
int Dispatch(int argc, char** argv, const std::map<std::string, CommandFunction>& implemented);

// Parses `args` against `options` (plus -h/--help) and the positional names in order ("name..."
// takes all the remaining ones). Returns
// nullopt after printing `usage` and the options when --help was given. Malformed options throw
// boost's errors, which main() reports as bad input (exit 2); an unknown option's error names the
// closest options the command has.
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

// Option groups that several commands share, declared once.
// --data-dir DIR (`what` says what the directory holds for the command), and the directory it
// means: the flag, else $ABLATE_DATA_DIR, else ./data.
void AddDataDirOption(po::options_description& options, const std::string& what = "data directory");
std::filesystem::path DataDirFrom(const po::variables_map& vm);
// --device cpu|cuda, --threads N (`threads_help` says what 0 and N mean for the command) and
// --rank-timeout SECONDS, and the values they give (the timeout checked to be at least 1 s).
void AddDeviceOptions(po::options_description& options, const std::string& threads_help);
std::string DeviceFrom(const po::variables_map& vm);
int ThreadsFrom(const po::variables_map& vm);
std::chrono::seconds RankTimeoutFrom(const po::variables_map& vm);

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
// the old file or the new, never half of one: in a remote task every rank reads the file the head
// wrote while rank 0 writes it again. Throws std::runtime_error when it cannot be written.
void WriteRunConfigFile(const std::string& run_dir, const nlohmann::json& params);

}  // namespace ablate::runner

namespace ablate::runner {

// A canonical parameter value as a typed table cell (bools as 0/1, like the params table).
results::Value JsonToCell(const nlohmann::json& value);

}  // namespace ablate::runner
