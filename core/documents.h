// The one normalized document format every corpus is converted to: JSON Lines, one document per
// line, {"id": "austen/emma/1", "title": "...", "source": "austen", "paragraphs": ["...", ...]}.
// Reading only; scripts/fetch_corpora.py writes these files, and plain-text directories are read
// here too (one document per .txt file, paragraphs separated by blank lines).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace ablate::core {

struct Document {
  std::string id;
  std::string title;
  std::string source;
  std::vector<std::string> paragraphs;
};

// Throws InputError naming the file and line for malformed input.
std::vector<Document> ReadJsonlDocuments(const std::filesystem::path& path);
std::vector<Document> ReadTextDocument(const std::filesystem::path& path);

}  // namespace ablate::core
