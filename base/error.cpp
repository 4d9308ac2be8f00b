#include "base/error.h"

namespace ablate {
namespace {

std::string Compose(const std::string& source, const std::string& path,
                    const std::string& message) {
  std::string out;
  if (!source.empty()) out += source + ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

}  // namespace

InputError::InputError(std::string source, std::string path, std::string message)
    : std::runtime_error(Compose(source, path, message)),
      source_(std::move(source)),
      path_(std::move(path)),
      message_(std::move(message)) {}

void FailCheck(const char* condition, const char* file, int line, const std::string& what) {
  throw InternalError(std::string(file) + ":" + std::to_string(line) + ": check failed (" +
                      condition + "): " + what);
}

}  // namespace ablate
