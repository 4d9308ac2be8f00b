#include "runner/slurm.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "base/error.h"
#include "base/list_text.h"

extern char** environ;

namespace ablate::runner {
namespace {

namespace fs = std::filesystem;

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

struct ProcessResult {
  bool found = true;  // false when argv[0] is not on PATH
  int exit_code = 0;  // 128 + signal number when killed by a signal
  std::string out;
  std::string err;
};

std::runtime_error SystemError(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

void MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw SystemError("pipe");
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
}

// Reads both pipes until the child closes them; reading one after the other could deadlock once
// the other fills its pipe buffer.
void DrainPipes(int out_fd, int err_fd, std::string& out, std::string& err) {
  std::array<pollfd, 2> fds{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}}};
  std::array<std::string*, 2> sinks{&out, &err};
  int open_count = 2;
  char buffer[4096];
  while (open_count > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw SystemError("poll");
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
      } else {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      }
    }
  }
}

// Runs argv[0], looked up on PATH, with no shell in between: arguments reach it verbatim, whatever
// spaces or quotes they hold. stdin is /dev/null so a Slurm command can never wait on ours.
ProcessResult RunProcess(const std::vector<std::string>& argv) {
  UniqueFd out_read, out_write, err_read, err_write;
  MakePipe(out_read, out_write);
  MakePipe(err_read, err_write);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  std::vector<char*> c_argv;
  for (const auto& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);
  pid_t pid = 0;
  int spawn_error =
      ::posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  out_write.Reset();
  err_write.Reset();

  ProcessResult result;
  if (spawn_error == ENOENT) {
    result.found = false;
    return result;
  }
  if (spawn_error != 0) {
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(spawn_error));
  }
  DrainPipes(out_read.get(), err_read.get(), result.out, result.err);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw SystemError("waitpid " + argv[0]);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string Trim(std::string_view text) { return std::string(TrimSpace(text)); }

bool IsJobId(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

InputError NotInstalled(const std::string& command) {
  return InputError(command +
                    " not found: is Slurm installed? (scripts/start-slurm sets up a "
                    "one-node cluster)");
}

// bash single quotes keep everything literal; a ' inside becomes '\'' (close, escaped ', reopen).
std::string ShellQuote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

// sbatch expands %-patterns in --output, so a '%' in the directory itself must be doubled.
std::string EscapeOutputPattern(const std::string& path) {
  std::string escaped;
  for (char c : path) {
    escaped += c;
    if (c == '%') escaped += '%';
  }
  return escaped;
}

// Writes the batch script under a fresh name: concurrent submissions into one log_dir never share
// a file (sbatch copies the script at submission, so it is only kept for the record).
fs::path WriteBatchScript(const SlurmSubmission& submission) {
  std::string path_template = (fs::path(submission.log_dir) / (submission.job_name + "-XXXXXX.sh"));
  std::vector<char> buffer(path_template.begin(), path_template.end());
  buffer.push_back('\0');
  int fd = ::mkstemps(buffer.data(), 3);
  if (fd < 0) throw SystemError("cannot create a batch script in " + submission.log_dir);
  ::close(fd);
  fs::path script(buffer.data());

  std::string command = submission.ntasks > 1 ? "srun --kill-on-bad-exit=1" : "";
  for (const auto& arg : submission.worker_argv) {
    command += (command.empty() ? "" : " ") + ShellQuote(arg);
  }
  std::ofstream out(script, std::ios::trunc);
  out << "#!/bin/bash\n"
         "# Submitted by ablate: every element of the array runs this command, which picks its\n"
         "# work by SLURM_ARRAY_TASK_ID. Near the job's time limit Slurm sends USR1 here; the\n"
         "# command checkpoints and exits "
      << kRequeueExitCode
      << ", and the element is requeued to go on in a new job.\n"
         "requeue() {\n"
         "  kill -USR1 \"$child\" 2>/dev/null\n"
         "  wait \"$child\"\n"
         "  code=$?\n"
         "  if [ \"$code\" -eq "
      << kRequeueExitCode
      << " ]; then\n"
         "    scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
         "    exit 0\n"
         "  fi\n"
         "  exit \"$code\"\n"
         "}\n"
         "trap requeue USR1\n"
      << command
      << " &\n"
         "child=$!\n"
         "wait \"$child\"\n"
         "code=$?\n"
         "if [ \"$code\" -eq "
      << kRequeueExitCode
      << " ]; then scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"; exit 0; fi\n"
         "exit \"$code\"\n";
  out.close();
  if (!out) throw std::runtime_error("cannot write " + script.string());
  return script;
}

// Splits "JOBID_INDEX" of job `job_id`; false for other jobs and for ranges of pending tasks
// ("JOBID_[2-5]") that sacct does not expand.
bool ParseTaskIndex(std::string_view task_id, const std::string& job_id, long& index) {
  if (task_id.size() <= job_id.size() + 1 || task_id.substr(0, job_id.size()) != job_id ||
      task_id[job_id.size()] != '_') {
    return false;
  }
  auto digits = task_id.substr(job_id.size() + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  return ec == std::errc() && end == digits.data() + digits.size();
}

// Reads "TASK_ID<separator>STATE" lines into `states`. sacct appends who cancelled a job
// ("CANCELLED by 0"), so only the state's first word counts.
void ReadStates(const std::string& text, char separator, const std::string& job_id,
                std::map<long, std::string>& states) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto split = line.find(separator);
    if (split == std::string::npos) continue;
    long index = 0;
    if (!ParseTaskIndex(Trim(std::string_view(line).substr(0, split)), job_id, index)) continue;
    std::istringstream state(line.substr(split + 1));
    std::string word;
    if (state >> word) states[index] = word;
  }
}

}  // namespace

std::string SubmitArray(const SlurmSubmission& submission) {
  ABLATE_CHECK(!submission.worker_argv.empty(), "a Slurm submission needs a worker command");
  ABLATE_CHECK(fs::path(submission.log_dir).is_absolute(), "log_dir must be absolute");
  ABLATE_CHECK(fs::path(submission.workdir).is_absolute(), "workdir must be absolute");
  if (submission.array_tasks < 1) {
    throw InputError("a Slurm job array needs at least one task, not " +
                     std::to_string(submission.array_tasks));
  }
  if (submission.job_name.empty() || submission.job_name.find('/') != std::string::npos) {
    throw InputError("Slurm job name \"" + submission.job_name +
                     "\" must be non-empty and without '/' (it names the log files)");
  }
  if (submission.log_dir.find('\\') != std::string::npos) {
    throw InputError(submission.log_dir, "",
                     "a backslash in the log directory turns off sbatch's %-patterns in "
                     "--output, which name each task's log; choose a directory without one");
  }
  auto extra_args = SplitShellWords(submission.extra_args);

  fs::create_directories(submission.log_dir);
  auto script = WriteBatchScript(submission);
  std::vector<std::string> argv = {
      "sbatch",
      "--parsable",
      "--array=0-" + std::to_string(submission.array_tasks - 1) +
          (submission.max_running > 0 ? "%" + std::to_string(submission.max_running) : ""),
      "--job-name=" + submission.job_name,
      "--output=" + EscapeOutputPattern(submission.log_dir) + "/%x-%A_%a.out",
      "--chdir=" + submission.workdir};
  if (submission.cpus_per_task > 0)
    argv.push_back("--cpus-per-task=" + std::to_string(submission.cpus_per_task));
  if (submission.ntasks > 1) argv.push_back("--ntasks=" + std::to_string(submission.ntasks));
  if (submission.requeue_signal_seconds > 0) {
    argv.push_back("--requeue");
    argv.push_back("--signal=B:USR1@" + std::to_string(submission.requeue_signal_seconds));
  }
  // After ours, so that the user's options win where both set one (sbatch keeps the last).
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv.push_back(script.string());

  auto result = RunProcess(argv);
  if (!result.found || result.exit_code != 0) fs::remove(script);
  if (!result.found) throw NotInstalled("sbatch");
  if (result.exit_code != 0) {
    throw std::runtime_error("sbatch refused the job array (exit " +
                             std::to_string(result.exit_code) + "): " + Trim(result.err));
  }
  // --parsable prints "JOBID" or, on a multi-cluster setup, "JOBID;CLUSTER".
  std::string job_id = Trim(result.out.substr(0, result.out.find(';')));
  if (!IsJobId(job_id)) {
    throw std::runtime_error("sbatch printed no job id: \"" + Trim(result.out) + "\"");
  }
  return job_id;
}

std::vector<SlurmTaskState> QueryArray(const std::string& job_id, int array_tasks) {
  if (!IsJobId(job_id)) {
    throw InputError("\"" + job_id + "\" is not a Slurm job id");
  }
  std::map<long, std::string> states;

  // Accounting is optional in Slurm, and one-node setups rarely have it: sacct then fails ("Slurm
  // accounting storage is disabled") or is missing, and squeue alone has to do.
  auto sacct = RunProcess({"sacct", "--noheader", "--parsable2", "--allocations", "--jobs", job_id,
                           "--format=JobID,State"});
  if (sacct.found && sacct.exit_code == 0) ReadStates(sacct.out, '|', job_id, states);

  // Fresher than accounting, so it wins. --states=all keeps tasks that ended within MinJobAge;
  // --array lists pending tasks one per line instead of as a range.
  auto squeue = RunProcess(
      {"squeue", "--noheader", "--array", "--states=all", "--jobs", job_id, "--format=%i %T"});
  if (!squeue.found) throw NotInstalled("squeue");
  if (squeue.exit_code != 0) {
    // A job slurmctld has already forgotten is "invalid", which is an answer, not a failure.
    if (squeue.err.find("Invalid job id") == std::string::npos) {
      throw std::runtime_error("squeue --jobs " + job_id + " failed (exit " +
                               std::to_string(squeue.exit_code) + "): " + Trim(squeue.err));
    }
  } else {
    ReadStates(squeue.out, ' ', job_id, states);
  }

  for (long index = 0; index < array_tasks; ++index) states.try_emplace(index, kEndedState);
  std::vector<SlurmTaskState> tasks;
  for (const auto& [index, state] : states) {
    tasks.push_back({job_id + "_" + std::to_string(index), state});
  }
  return tasks;
}

bool IsFinished(std::string_view state) {
  static constexpr std::array<std::string_view, 10> kFinal = {
      "BOOT_FAIL", "CANCELLED",     "COMPLETED", "DEADLINE", "FAILED",
      "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT",  kEndedState};
  return std::find(kFinal.begin(), kFinal.end(), state) != kFinal.end();
}

std::string SummarizeStates(const std::vector<SlurmTaskState>& tasks) {
  std::map<std::string, int> counts;
  for (const auto& task : tasks) ++counts[task.state];
  std::vector<std::pair<std::string, int>> ordered(counts.begin(), counts.end());
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string line;
  for (const auto& [state, count] : ordered) {
    if (!line.empty()) line += ", ";
    line += std::to_string(count) + " " + state;
  }
  return line;
}

std::vector<std::string> SplitShellWords(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // '' is an (empty) word, so emptiness alone cannot tell
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (++i == text.size()) throw InputError("--slurm-args", "", "ends with a lone backslash");
      if (text[i] != '\n') word += text[i];
    } else if (c == '\'') {
      auto close = text.find('\'', i + 1);
      if (close == std::string::npos) {
        throw InputError("--slurm-args", "", "unterminated ' quote in: " + text);
      }
      word.append(text, i + 1, close - i - 1);
      i = close;
    } else if (c == '"') {
      // Inside double quotes a backslash only escapes the characters the shell gives meaning to.
      for (++i;; ++i) {
        if (i == text.size()) {
          throw InputError("--slurm-args", "", "unterminated \" quote in: " + text);
        }
        if (text[i] == '"') break;
        if (text[i] == '\\' && i + 1 < text.size() &&
            std::string_view("$`\"\\\n").find(text[i + 1]) != std::string_view::npos) {
          ++i;
          if (text[i] == '\n') continue;
        }
        word += text[i];
      }
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace ablate::runner
