// Comma-separated parameter lists (eval.corpus, eval.tasks) and the whitespace they may carry.
#include "base/list_text.h"

#include <catch2/catch.hpp>
#include <string_view>
#include <vector>

using ablate::CommaList;
using ablate::TrimSpace;
using List = std::vector<std::string_view>;

TEST_CASE("TrimSpace strips spaces, tabs, CR and LF at both ends only", "[list_text]") {
  CHECK(TrimSpace(" \t books \r\n") == "books");
  CHECK(TrimSpace("a b") == "a b");
  CHECK(TrimSpace(" \t\r\n").empty());
  CHECK(TrimSpace("").empty());
}

TEST_CASE("CommaList gives the trimmed entries and keeps empty ones for the caller",
          "[list_text]") {
  CHECK(CommaList("books") == List{"books"});
  CHECK(CommaList(" books , mixture") == List{"books", "mixture"});
  CHECK(CommaList("").empty());
  CHECK(CommaList("  \t").empty());
  CHECK(CommaList("a,,b") == List{"a", "", "b"});
  CHECK(CommaList("a,") == List{"a", ""});
  CHECK(CommaList(",") == List{"", ""});
}

TEST_CASE("OrList writes choices as a sentence does", "[list_text]") {
  CHECK(ablate::OrList({}).empty());
  CHECK(ablate::OrList({"local"}) == "local");
  CHECK(ablate::OrList({"local", "slurm"}) == "local or slurm");
  CHECK(ablate::OrList({"markdown", "latex", "csv"}) == "markdown, latex or csv");
}
