// Shortest round-trip decimal text of a double in printf %g layout: 1e-4 -> "0.0001",
// 1e-5 -> "1e-05", 3.68 -> "3.68". The one number spelling used in run keys and tables.
#pragma once

#include <string>

namespace ablate {

std::string ShortestText(double x);

}  // namespace ablate
