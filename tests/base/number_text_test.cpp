// Number spellings: shortest round-trip text (run keys, tables) and SI sizes (plans, footnotes).
#include "base/number_text.h"

#include <catch2/catch.hpp>

using ablate::ShortestText;
using ablate::SiText;

TEST_CASE("shortest text round-trips in %g layout", "[number_text]") {
  CHECK(ShortestText(1e-4) == "0.0001");
  CHECK(ShortestText(1e-5) == "1e-05");
  CHECK(ShortestText(3.68) == "3.68");
}

TEST_CASE("SI text keeps 3 significant digits and names the power", "[number_text]") {
  CHECK(SiText(399) == "399");
  CHECK(SiText(7.5) == "7.5");
  CHECK(SiText(2034) == "2.03k");
  CHECK(SiText(999.4) == "999");
  CHECK(SiText(999.6) == "1k");
  CHECK(SiText(600000) == "600k");
  CHECK(SiText(4.01e6) == "4.01M");
  CHECK(SiText(1.31e11) == "131G");
  CHECK(SiText(2.02e12) == "2.02T");
}
