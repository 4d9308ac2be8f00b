#include "base/json_text.h"

#include <fstream>
#include <sstream>

#include "base/error.h"

namespace ablate {

nlohmann::ordered_json ParseJsonText(const std::string& text, const std::string& source) {
  try {
    return nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::ordered_json::parse_error& e) {
    // Report line:column of the byte where parsing stopped, and nlohmann's reason without its own
    // prefix.
    size_t line = 1, column = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string reason = e.what();
    if (auto pos = reason.find(": "); pos != std::string::npos) reason = reason.substr(pos + 2);
    throw InputError(source + ":" + std::to_string(line) + ":" + std::to_string(column), "",
                     "malformed JSON: " + reason);
  } catch (const nlohmann::ordered_json::exception& e) {
    // A number too large for a double (1e999) is out_of_range, not parse_error, and has no offset.
    std::string reason = e.what();
    if (auto pos = reason.find("] "); pos != std::string::npos) reason = reason.substr(pos + 2);
    throw InputError(source, "", "malformed JSON: " + reason);
  }
}

nlohmann::ordered_json ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseJsonText(text.str(), path);
}

}  // namespace ablate
