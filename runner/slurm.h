// The Slurm backend's contact with Slurm: submits one job array (sbatch) whose tasks each run one
// command, requeued near the job's time limit, and reads the states of the array's tasks back
// (squeue, and sacct where accounting exists). It runs the Slurm commands without a shell; it
// does not know the results database or what a task does (backend_slurm.cpp and cmd_task.cpp do).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runner/signals.h"

namespace ablate::runner {

struct SlurmSubmission {
  std::string job_name;                  // sbatch --job-name; also names the log files
  int array_tasks = 1;                   // tasks 0..array_tasks-1, each running worker_argv once
  int max_running = 0;                   // > 0: at most this many tasks at once (--array=...%M)
  std::vector<std::string> worker_argv;  // absolute path of the ablate binary first
  std::string extra_args;                // the user's --slurm-args, split shell-like
  std::string log_dir;                   // absolute, created if missing: script and task logs
  std::string workdir;                   // absolute: where every task starts (sbatch --chdir)
  int cpus_per_task = 0;                 // > 0: sbatch --cpus-per-task
  int ntasks = 1;  // > 1: each array element gets this many tasks, started by srun (ranks)
  // > 0: Slurm sends USR1 this many seconds before the time limit (--signal=B:USR1@S); the script
  // forwards it to the command and, when the command exits with kRequeueExitCode (signals.h),
  // requeues the array element (--requeue), which then runs the command again in a new job.
  int requeue_signal_seconds = 0;
};

// Writes a bash batch script into log_dir that runs worker_argv (under srun when ntasks > 1), and
// submits it with `sbatch --parsable --array=0-(N-1)[%M] --job-name --output=LOG_DIR/%x-%A_%a.out
// --chdir [--cpus-per-task] [--ntasks] [--requeue --signal=B:USR1@S] EXTRA_ARGS SCRIPT`.
// Returns the job id. Throws InputError for a submission sbatch could not honour (no tasks, a job
// name with '/', a backslash in log_dir, unbalanced quotes in extra_args) and when sbatch is not
// installed; std::runtime_error carrying sbatch's message when it refuses the job.
std::string SubmitArray(const SlurmSubmission& submission);

struct SlurmTaskState {
  std::string task_id;  // "JOBID_INDEX", as squeue and sacct print it
  std::string state;    // Slurm's (PENDING, RUNNING, COMPLETED, FAILED, ...) or kEndedState
};

// The state of a task Slurm no longer lists: it finished longer ago than slurmctld's MinJobAge
// (300 s by default) and there is no accounting storage (sacct) that remembers how.
inline constexpr std::string_view kEndedState = "ENDED";

// The states of tasks 0..array_tasks-1 of job array `job_id` (plus any other task Slurm lists for
// it), ordered by index. Live states come from `squeue`; finished tasks squeue has dropped come
// from `sacct` when accounting is configured, else are kEndedState. Throws InputError for a job id
// that is not a number or when squeue is not installed; std::runtime_error with squeue's message
// when the controller does not answer.
std::vector<SlurmTaskState> QueryArray(const std::string& job_id, int array_tasks);

// True for states a task never leaves (COMPLETED, FAILED, CANCELLED, TIMEOUT, ..., kEndedState).
bool IsFinished(std::string_view state);

// One line for `ablate status`: "2 COMPLETED, 1 RUNNING, 1 PENDING" (counts, most frequent first).
std::string SummarizeStates(const std::vector<SlurmTaskState>& tasks);

// Splits `text` into words the way a POSIX shell does (blanks, '...', "...", backslash escapes)
// but expands nothing: the user's shell already expanded --slurm-args once. Throws InputError for
// an unterminated quote or a trailing backslash.
std::vector<std::string> SplitShellWords(const std::string& text);

}  // namespace ablate::runner
