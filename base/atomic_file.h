// Writing a small file so that readers see the old content or the new, never half of it: the
// text goes to a temporary file beside it, which is then renamed over it. Nothing else.
#pragma once

#include <filesystem>
#include <string_view>

namespace ablate {

// The temporary file's name holds the process id, so processes writing one path do not collide.
// Throws std::runtime_error when the text cannot be written (and leaves `path` as it was).
void WriteFileAtomically(const std::filesystem::path& path, std::string_view text);

}  // namespace ablate
