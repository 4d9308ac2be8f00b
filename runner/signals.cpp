#include "runner/signals.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace ablate::runner {
namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_time_limit = 0;

void OnSignal(int signal) {
  if (g_stop != 0 && signal == SIGINT) _exit(130);
  if (signal == SIGUSR1) g_time_limit = 1;
  g_stop = 1;
  static const char kMessage[] =
      "\nablate: stopping after this step (checkpointing); Ctrl-C again quits now\n";
  ssize_t ignored = write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  (void)ignored;
}

}  // namespace

void InstallStopHandlers() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void InstallTimeLimitHandler() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, nullptr);
}

bool StopSignalled() { return g_stop != 0; }

bool TimeLimitSignalled() { return g_time_limit != 0; }

}  // namespace ablate::runner
