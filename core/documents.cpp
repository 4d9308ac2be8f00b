#include "core/documents.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"

namespace ablate::core {

uint64_t ForEachJsonlDocument(const std::filesystem::path& path, uint64_t begin, uint64_t end,
                              const std::function<void(Document&&)>& each) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "", "cannot read documents file");
  std::string line;
  uint64_t at = 0;  // the byte where `line` starts
  if (begin > 0) {
    // The line holding byte begin - 1 belongs to the piece before unless it ends right there.
    in.seekg(static_cast<std::streamoff>(begin - 1));
    std::getline(in, line);
    if (!in) return 0;
    at = begin - 1 + line.size() + 1;
  }
  uint64_t bytes = 0;
  for (size_t number = 1; at < end && std::getline(in, line); ++number) {
    const uint64_t start = at;
    at += line.size() + 1;
    bytes += line.size() + 1;
    if (line.empty()) continue;
    auto where = begin == 0 ? path.string() + ":" + std::to_string(number)
                            : path.string() + ": the line at byte " + std::to_string(start);
    try {
      auto j = nlohmann::json::parse(line);
      Document d;
      d.id = j.at("id").get<std::string>();
      d.title = j.value("title", "");
      d.source = j.value("source", "");
      d.paragraphs = j.at("paragraphs").get<std::vector<std::string>>();
      each(std::move(d));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(where, "", std::string("not a document line: ") + e.what());
    }
  }
  return bytes;
}

std::vector<Document> ReadJsonlDocuments(const std::filesystem::path& path) {
  std::vector<Document> out;
  ForEachJsonlDocument(path, 0, UINT64_MAX, [&](Document&& d) { out.push_back(std::move(d)); });
  return out;
}

std::vector<Document> ReadTextDocument(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "", "cannot read text file");
  Document d;
  d.id = path.stem().string();
  d.title = d.id;
  d.source = path.parent_path().filename().string();
  std::string line, paragraph;
  auto flush = [&] {
    if (!paragraph.empty()) d.paragraphs.push_back(std::move(paragraph));
    paragraph.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      flush();
      continue;
    }
    if (!paragraph.empty()) paragraph += ' ';
    paragraph += line;
  }
  flush();
  return {std::move(d)};
}

}  // namespace ablate::core
