// Number spellings: the shortest round-trip decimal text of a double in printf %g layout
// (1e-4 -> "0.0001", 1e-5 -> "1e-05", 3.68 -> "3.68"), the one used in run keys and tables; and
// an approximate size with an SI suffix for plans and footnotes.
#pragma once

#include <string>

namespace ablate {

std::string ShortestText(double x);

// 3 significant digits with an SI suffix (k, M, G, T, P, E): 399 -> "399", 2034 -> "2.03k",
// 1.31e11 -> "131G".
std::string SiText(double x);

}  // namespace ablate
