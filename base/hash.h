// SHA-256 of a byte string, as lowercase hex. Used for stable run keys and grid fingerprints;
// not for anything security-sensitive.
#pragma once

#include <string>
#include <string_view>

namespace ablate {

std::string Sha256Hex(std::string_view data);

}  // namespace ablate
