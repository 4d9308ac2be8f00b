// Encoding throughput of BpeTokenizer with GPT-2's vocabulary against tiktoken's "gpt2" encoding
// (WASM, run by node: bench/tiktoken_peer.js), both single-threaded on the same text, and a check
// that both give the same ids for all of it. Prints
//   tokenizer: ours=<MB/s> peer=<MB/s> ratio=<ours/peer> (MB/s)
// and exits 1 when the ids differ. The text is the English prose Debian installs (licenses,
// copyright files, READMEs, changelogs), so it needs no corpus download; GPT-2's files and
// tiktoken come from scripts/fetch-data.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/hash.h"
#include "core/bpe_tokenizer.h"
#include "core/corpus.h"

namespace {

namespace fs = std::filesystem;
using ablate::core::BpeTokenizer;
using ablate::core::TokenId;
using Clock = std::chrono::steady_clock;

constexpr size_t kCorpusBytes = 8 << 20;
constexpr int kOurReps = 5;
constexpr int kPeerReps = 3;

// Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF): node would turn anything
// else into U+FFFD, and the two tokenizers would then see different text.
bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char lead = byte(i);
    size_t length = lead < 0x80                    ? 1
                    : lead >= 0xC2 && lead <= 0xDF ? 2
                    : lead >= 0xE0 && lead <= 0xEF ? 3
                    : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                   : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return false;
    }
    if ((lead == 0xE0 && byte(i + 1) < 0xA0) || (lead == 0xED && byte(i + 1) > 0x9F) ||
        (lead == 0xF0 && byte(i + 1) < 0x90) || (lead == 0xF4 && byte(i + 1) > 0x8F)) {
      return false;
    }
    i += length;
  }
  return true;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Up to kCorpusBytes of distinct, valid UTF-8 text files under the given roots, in path order.
std::string BuildCorpus(size_t* files_used) {
  std::vector<fs::path> paths;
  for (const char* root : {"/usr/share/common-licenses", "/usr/share/doc"}) {
    std::error_code error;
    for (fs::recursive_directory_iterator it(root, error), end; !error && it != end;
         it.increment(error)) {
      if (!it->is_regular_file() || it->path().extension() == ".gz") continue;
      const std::string name = it->path().filename().string();
      const std::string ext = it->path().extension().string();
      if (name == "copyright" || name.starts_with("README") || ext == ".md" || ext == ".txt" ||
          it->path().parent_path() == "/usr/share/common-licenses") {
        paths.push_back(it->path());
      }
    }
  }
  std::sort(paths.begin(), paths.end());
  std::set<std::string> seen;  // Debian repeats the same copyright file across packages
  std::string corpus;
  *files_used = 0;
  for (const fs::path& path : paths) {
    if (corpus.size() >= kCorpusBytes) break;
    std::string text = ReadFile(path);
    if (text.empty() || !IsValidUtf8(text) || !seen.insert(ablate::Sha256Hex(text)).second)
      continue;
    corpus += text;
    corpus += "\n\n";
    ++*files_used;
  }
  return corpus;
}

double MeasureOurs(const BpeTokenizer& loaded, const std::string& corpus,
                   std::vector<TokenId>* ids) {
  double best = 1e300;
  for (int rep = 0; rep < kOurReps; ++rep) {
    BpeTokenizer tokenizer = loaded;  // a fresh copy starts with an empty cache, as tiktoken does
    ids->clear();
    auto start = Clock::now();
    tokenizer.Encode(corpus, ids);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return corpus.size() / 1e6 / best;
}

// Runs the node peer; returns its MB/s (0 when it failed) and fills `ids` with its ids.
double MeasurePeer(const fs::path& modules, const fs::path& corpus_path, const fs::path& ids_path,
                   std::vector<TokenId>* ids) {
  const std::string command = "node " + std::string(ABLATE_TIKTOKEN_PEER) + " '" +
                              modules.string() + "' '" + corpus_path.string() + "' '" +
                              ids_path.string() + "' " + std::to_string(kPeerReps);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return 0;
  double rate = 0;
  if (std::fscanf(pipe, "%lf", &rate) != 1) rate = 0;
  if (pclose(pipe) != 0) return 0;
  const std::string raw = ReadFile(ids_path);
  ids->resize(raw.size() / sizeof(uint32_t));
  std::copy(raw.begin(), raw.begin() + ids->size() * sizeof(uint32_t),
            reinterpret_cast<char*>(ids->data()));
  return rate;
}

}  // namespace

int main() {
  const fs::path data_dir = ablate::core::ResolveDataDir("");
  const fs::path modules = data_dir / "node" / "node_modules";
  if (!fs::exists(data_dir / "gpt2" / "vocab.bpe") || !fs::exists(modules / "tiktoken")) {
    std::cerr << "tokenizer: GPT-2's files or tiktoken are missing from " << data_dir
              << ": run scripts/fetch-data\n";
    return 1;
  }
  size_t files = 0;
  const std::string corpus = BuildCorpus(&files);
  std::cerr << "tokenizer: " << corpus.size() / 1e6 << " MB from " << files
            << " Debian text files\n";

  const fs::path dir =
      fs::temp_directory_path() / ("ablate_tokenizer_bench_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "corpus.txt", std::ios::binary) << corpus;

  const BpeTokenizer tokenizer = BpeTokenizer::Load(data_dir / "gpt2");
  std::vector<TokenId> ours_ids;
  std::vector<TokenId> peer_ids;
  const double ours = MeasureOurs(tokenizer, corpus, &ours_ids);
  const double peer = MeasurePeer(modules, dir / "corpus.txt", dir / "ids.bin", &peer_ids);
  fs::remove_all(dir);
  if (peer == 0) {
    std::cerr << "tokenizer: the tiktoken peer failed (node " << ABLATE_TIKTOKEN_PEER << ")\n";
    return 1;
  }
  std::printf("tokenizer: ours=%.2f peer=%.2f ratio=%.2f (MB/s)\n", ours, peer, ours / peer);

  const size_t length = std::max(ours_ids.size(), peer_ids.size());
  size_t mismatches = 0;
  size_t first = length;
  for (size_t i = 0; i < length; ++i) {
    bool same = i < ours_ids.size() && i < peer_ids.size() && ours_ids[i] == peer_ids[i];
    if (!same) {
      ++mismatches;
      first = std::min(first, i);
    }
  }
  if (mismatches > 0) {
    std::cerr << "tokenizer: ids differ from tiktoken's at " << mismatches << " of " << length
              << " positions (ours " << ours_ids.size() << " ids, tiktoken " << peer_ids.size()
              << "), first at id " << first << "\n";
    return 1;
  }
  return 0;
}
