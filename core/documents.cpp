#include "core/documents.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"

namespace ablate::core {

std::vector<Document> ReadJsonlDocuments(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "", "cannot read documents file");
  std::vector<Document> out;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    auto where = path.string() + ":" + std::to_string(number);
    try {
      auto j = nlohmann::json::parse(line);
      Document d;
      d.id = j.at("id").get<std::string>();
      d.title = j.value("title", "");
      d.source = j.value("source", "");
      d.paragraphs = j.at("paragraphs").get<std::vector<std::string>>();
      out.push_back(std::move(d));
    } catch (const nlohmann::json::exception& e) {
      throw InputError(where, "", std::string("not a document line: ") + e.what());
    }
  }
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
