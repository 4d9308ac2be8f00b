// The one normalized document format every corpus is converted to: JSON Lines, one document per
// line, {"id": "austen/emma/1", "title": "...", "source": "austen", "paragraphs": ["...", ...]}.
// Reading only; scripts/fetch_corpora.py writes these files, and plain-text directories are read
// here too (one document per .txt file, paragraphs separated by blank lines).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
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

// Streams the documents of a JSON Lines file whose lines start at a byte in [begin, end), in file
// order, holding one line at a time: so a file can be read in pieces, each line by exactly one
// piece, whatever the cut. Returns the bytes of those lines. Malformed input throws InputError
// naming the file and line (or, for a piece that starts inside the file, the line's byte offset).
uint64_t ForEachJsonlDocument(const std::filesystem::path& path, uint64_t begin, uint64_t end,
                              const std::function<void(Document&&)>& each);

}  // namespace ablate::core
