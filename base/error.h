// Error types shared by every layer: InputError for bad input a user can fix (the CLI maps it to
// exit code 2), and ABLATE_CHECK for internal invariants. Nothing here prints or exits.
#pragma once

#include <stdexcept>
#include <string>

namespace ablate {

// Bad input: names where it came from (a file, a JSON path such as /axes/optim.lr/2) and what was
// wrong. what() is the one line the CLI prints: "FILE: PATH: MESSAGE".
class InputError : public std::runtime_error {
 public:
  InputError(std::string source, std::string path, std::string message);
  explicit InputError(std::string message) : InputError("", "", std::move(message)) {}

  const std::string& source() const { return source_; }
  const std::string& path() const { return path_; }
  const std::string& message() const { return message_; }

 private:
  std::string source_;
  std::string path_;
  std::string message_;
};

// A broken internal invariant (a bug in ablate, not in the user's input).
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

[[noreturn]] void FailCheck(const char* condition, const char* file, int line,
                            const std::string& what);

}  // namespace ablate

#define ABLATE_CHECK(cond, msg)                                         \
  do {                                                                  \
    if (!(cond)) ::ablate::FailCheck(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
