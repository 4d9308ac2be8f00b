// The one reader of user-written JSON: RFC 6901 paths, typed getters, unknown keys with hints.
#include "base/json_at.h"

#include <catch2/catch.hpp>
#include <string>

#include "base/error.h"
#include "base/json_text.h"

using ablate::InputError;
using ablate::JsonAt;
using ablate::JsonPointerJoin;

namespace {

// The error a reading throws, as the CLI prints it.
template <typename F>
std::string Error(F&& read) {
  try {
    read();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("JSON pointer paths escape ~ and / as RFC 6901 says", "[json_at]") {
  // RFC 6901 section 5's examples: "a/b" is /a~1b, "m~n" is /m~0n; "~1" must not read back as "/".
  CHECK(JsonPointerJoin("", "a/b") == "/a~1b");
  CHECK(JsonPointerJoin("", "m~n") == "/m~0n");
  CHECK(JsonPointerJoin("/x", "~1") == "/x/~01");
  CHECK(JsonPointerJoin("", "") == "/");
  CHECK(JsonPointerJoin("/tables", 3) == "/tables/3");
  // The paths resolve to the same values with nlohmann's own pointer reader.
  const auto doc = ablate::ParseJsonText(R"({"a/b": {"m~n": [10, 20]}})", "d.json");
  const std::string path = JsonPointerJoin(JsonPointerJoin(JsonPointerJoin("", "a/b"), "m~n"), 1);
  CHECK(doc.at(nlohmann::ordered_json::json_pointer(path)) == 20);
}

TEST_CASE("JsonAt names the file and path of every error", "[json_at]") {
  const std::string source = "spec.json";
  const auto doc = ablate::ParseJsonText(
      R"({"title": 7, "tables": [{"id": "t1", "rows": []}], "a/b": {"ok": true}})", source);
  const JsonAt root(doc, source);
  CHECK(Error([&] { root["title"].String(); }) ==
        "spec.json: /title: expected a string, got a number 7");
  CHECK(Error([&] { root["caption"].String(); }) ==
        "spec.json: /caption: missing: expected a string");
  CHECK(Error([&] { root["tables"][0]["rows"].Expect(false, "at least one row"); }) ==
        "spec.json: /tables/0/rows: expected at least one row, got an array []");
  CHECK(Error([&] { root["tables"][1].ExpectObject(); }) ==
        "spec.json: /tables/1: missing: expected an object");
  CHECK(Error([&] { root["a/b"]["ok"].Int(); }) ==
        "spec.json: /a~1b/ok: expected an integer, got a boolean true");
  CHECK(Error([&] { root.Fail("bad"); }) == "spec.json: /: bad");
  CHECK(root["tables"][0]["id"].String() == "t1");
  CHECK(root.StringOr("subtitle", "none") == "none");
  CHECK(root["a/b"].BoolOr("ok", false));
  CHECK_FALSE(root.Find("subtitle"));
  CHECK(root.Find("tables")->path() == "/tables");
}

TEST_CASE("JsonAt rejects unknown keys with the closest known ones", "[json_at]") {
  const std::string source = "g.json";
  const auto doc = ablate::ParseJsonText(R"({"name": "x", "axis": {}})", source);
  const JsonAt root(doc, source);
  CHECK(
      Error([&] {
        root.CheckKeys({"name", "axes", "base"}, "; a grid has name, axes, base");
      }) ==
      "g.json: /axis: unknown key \"axis\" (did you mean \"axes\"?); a grid has name, axes, base");
  CHECK(Error([&] { root.CheckKeys({"name", "axis"}); }) == "(no error)");
}

TEST_CASE("JsonAt's integers reject floats and values beyond int64", "[json_at]") {
  const std::string source = "t.json";
  const auto doc = ablate::ParseJsonText(R"([1.5, 18446744073709551615, -3])", source);
  const JsonAt root(doc, source);
  CHECK(Error([&] { root[0].Int(); }) == "t.json: /0: expected an integer, got a number 1.5");
  CHECK(Error([&] { root[1].Int(); }) ==
        "t.json: /1: expected an integer, got a number 18446744073709551615");
  CHECK(root[2].Int() == -3);
  CHECK(root.Elements().size() == 3);
  CHECK(root[0].Number() == 1.5);
}

TEST_CASE("JsonAt shows null once", "[json_at]") {
  const std::string source = "n.json";
  const auto doc = ablate::ParseJsonText(R"({"x": null})", source);
  CHECK(Error([&] { JsonAt(doc, source)["x"].String(); }) ==
        "n.json: /x: expected a string, got null");
}
