// Reading JSON that a user wrote (grids, report specs, task files, checkpoint pointers) with every
// error naming where it is: a JsonAt is a value together with its file and its RFC 6901 path
// ("/tables/0/columns/2"), with typed getters, unknown-key checks with did-you-mean hints and
// "expected ..., got ..." messages, all thrown as InputError(source, path, message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ablate {

// RFC 6901: a key's '~' becomes "~0" and '/' becomes "~1", so a path names one place for any key.
std::string JsonPointerJoin(std::string_view parent, std::string_view key);
std::string JsonPointerJoin(std::string_view parent, size_t index);

// "an object", "an array", "a string", "a boolean", "null" or "a number".
std::string JsonKind(const nlohmann::ordered_json& value);

// The value's JSON text, cut to at most 60 characters with "...".
std::string JsonShort(const nlohmann::ordered_json& value);

// A view: the value and the source string must outlive it. A child that is absent is "missing":
// its getters and Expect fail with "missing: expected ...".
class JsonAt {
 public:
  JsonAt(const nlohmann::ordered_json& value, const std::string& source, std::string path = "");

  const nlohmann::ordered_json& value() const { return *value_; }
  const std::string& source() const { return *source_; }
  // The RFC 6901 pointer; "" is the root (errors show it as "/").
  const std::string& path() const { return path_; }
  bool Missing() const { return value_->is_discarded(); }

  [[noreturn]] void Fail(const std::string& message) const;

  // Fails with "expected WHAT, got <kind> <value>" (or "missing: expected WHAT") unless `ok`.
  void Expect(bool ok, const std::string& what) const;

  // Fails at the first key that is not in `allowed`, with a did-you-mean and then `hint`.
  void CheckKeys(const std::vector<std::string>& allowed, const std::string& hint = "") const;

  // The member `key` (missing when absent or when this is not an object).
  JsonAt Get(std::string_view key) const;
  JsonAt operator[](std::string_view key) const { return Get(key); }
  bool Has(std::string_view key) const {
    return value_->is_object() && value_->contains(std::string(key));
  }
  // The member if present.
  std::optional<JsonAt> Find(std::string_view key) const;
  // Element `index` of an array (missing when out of range or not an array).
  JsonAt At(size_t index) const;
  JsonAt operator[](size_t index) const { return At(index); }

  // Fail unless the value is an object (or an array), naming `what` was expected.
  void ExpectObject(const std::string& what = "an object") const;
  size_t ArraySize(const std::string& what = "an array") const;
  std::vector<JsonAt> Elements(const std::string& what = "an array") const;
  std::vector<std::pair<std::string, JsonAt>> Members(const std::string& what = "an object") const;

  const std::string& String(const std::string& what = "a string") const;
  int64_t Int(const std::string& what = "an integer") const;
  double Number(const std::string& what = "a number") const;
  bool Bool(const std::string& what = "true or false") const;

  // Optional members: the fallback when absent, else the typed value (or an error).
  std::string StringOr(std::string_view key, const std::string& fallback) const;
  bool BoolOr(std::string_view key, bool fallback) const;

 private:
  const nlohmann::ordered_json* value_;
  const std::string* source_;
  std::string path_;
};

}  // namespace ablate
