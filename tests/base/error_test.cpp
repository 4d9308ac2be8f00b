#include "base/error.h"

#include <catch2/catch.hpp>

TEST_CASE("InputError reads as one line: source, JSON path, message", "[error]") {
  ablate::InputError e("grid.json", "/axes/optim.lr/2", "expected a number");
  CHECK(std::string(e.what()) == "grid.json: /axes/optim.lr/2: expected a number");
  CHECK(e.path() == "/axes/optim.lr/2");
  CHECK(std::string(ablate::InputError("no SQL given").what()) == "no SQL given");
}

TEST_CASE("ABLATE_CHECK throws an InternalError naming the condition", "[error]") {
  CHECK_NOTHROW([] { ABLATE_CHECK(1 + 1 == 2, "fine"); }());
  try {
    ABLATE_CHECK(1 + 1 == 3, "arithmetic");
    FAIL("no throw");
  } catch (const ablate::InternalError& e) {
    CHECK_THAT(e.what(), Catch::Contains("1 + 1 == 3") && Catch::Contains("arithmetic"));
  }
}
