#include "base/json_at.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "base/suggest.h"

namespace ablate {
namespace {

using nlohmann::ordered_json;

const ordered_json& MissingValue() {
  static const ordered_json kMissing(ordered_json::value_t::discarded);
  return kMissing;
}

}  // namespace

std::string JsonPointerJoin(std::string_view parent, std::string_view key) {
  std::string out(parent);
  out += '/';
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string JsonPointerJoin(std::string_view parent, size_t index) {
  return std::string(parent) + "/" + std::to_string(index);
}

std::string JsonKind(const ordered_json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  return "a number";
}

std::string JsonShort(const ordered_json& value) {
  std::string text = value.dump();
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

JsonAt::JsonAt(const ordered_json& value, const std::string& source, std::string path)
    : value_(&value), source_(&source), path_(std::move(path)) {}

void JsonAt::Fail(const std::string& message) const {
  throw InputError(*source_, path_.empty() ? "/" : path_, message);
}

void JsonAt::Expect(bool ok, const std::string& what) const {
  if (ok) return;
  if (Missing()) Fail("missing: expected " + what);
  Fail("expected " + what + ", got " +
       (value_->is_null() ? "null" : JsonKind(*value_) + " " + JsonShort(*value_)));
}

void JsonAt::CheckKeys(const std::vector<std::string>& allowed, const std::string& hint) const {
  if (!value_->is_object()) return;
  for (const auto& [key, value] : value_->items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      Get(key).Fail("unknown key \"" + key + "\"" + DidYouMean(ClosestNames(key, allowed)) + hint);
    }
  }
}

JsonAt JsonAt::Get(std::string_view key) const {
  std::string path = JsonPointerJoin(path_, key);
  if (value_->is_object()) {
    const auto it = value_->find(std::string(key));
    if (it != value_->end()) return {*it, *source_, std::move(path)};
  }
  return {MissingValue(), *source_, std::move(path)};
}

std::optional<JsonAt> JsonAt::Find(std::string_view key) const {
  if (!Has(key)) return std::nullopt;
  return Get(key);
}

JsonAt JsonAt::At(size_t index) const {
  std::string path = JsonPointerJoin(path_, index);
  if (value_->is_array() && index < value_->size()) {
    return {(*value_)[index], *source_, std::move(path)};
  }
  return {MissingValue(), *source_, std::move(path)};
}

void JsonAt::ExpectObject(const std::string& what) const { Expect(value_->is_object(), what); }

size_t JsonAt::ArraySize(const std::string& what) const {
  Expect(value_->is_array(), what);
  return value_->size();
}

std::vector<JsonAt> JsonAt::Elements(const std::string& what) const {
  std::vector<JsonAt> out;
  const size_t n = ArraySize(what);
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(At(i));
  return out;
}

std::vector<std::pair<std::string, JsonAt>> JsonAt::Members(const std::string& what) const {
  ExpectObject(what);
  std::vector<std::pair<std::string, JsonAt>> out;
  for (const auto& [key, value] : value_->items()) {
    out.emplace_back(key, JsonAt(value, *source_, JsonPointerJoin(path_, key)));
  }
  return out;
}

const std::string& JsonAt::String(const std::string& what) const {
  Expect(value_->is_string(), what);
  return value_->get_ref<const std::string&>();
}

int64_t JsonAt::Int(const std::string& what) const {
  Expect(
      value_->is_number_integer() && (!value_->is_number_unsigned() ||
                                      value_->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)),
      what);
  return value_->get<int64_t>();
}

double JsonAt::Number(const std::string& what) const {
  Expect(value_->is_number(), what);
  return value_->get<double>();
}

bool JsonAt::Bool(const std::string& what) const {
  Expect(value_->is_boolean(), what);
  return value_->get<bool>();
}

std::string JsonAt::StringOr(std::string_view key, const std::string& fallback) const {
  return Has(key) ? Get(key).String() : fallback;
}

bool JsonAt::BoolOr(std::string_view key, bool fallback) const {
  return Has(key) ? Get(key).Bool() : fallback;
}

}  // namespace ablate
