#include "core/bpe_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "base/error.h"

namespace ablate::core {
namespace {

// \s of GPT-2's pattern: Unicode's White_Space property, spelled out because PCRE2's UCP \s also
// matches U+180E, which GPT-2's Python `regex` and tiktoken treat as a symbol.
constexpr std::string_view kWhiteSpace = R"(\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A})"
                                         R"(\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

std::string Gpt2Pattern() {
  const std::string ws(kWhiteSpace);
  return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^)" + ws + R"(\p{L}\p{N}]+|[)" + ws +
         "]+(?![^" + ws + "])|[" + ws + "]+";
}

// GPT-2's bytes_to_unicode(): encoder.json and vocab.bpe spell each byte as one printable
// character: printable Latin-1 bytes as themselves, the other 68 bytes as U+0100 onwards.
struct ByteAlphabet {
  std::array<uint8_t, 256> byte_by_id{};  // GPT-2 numbers the single-byte tokens in this order
  std::array<char32_t, 256> code_point{};
  std::array<int16_t, 0x144> byte_of_code_point{};  // -1: not a character of the alphabet
};

constexpr bool PrintsAsItself(int byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

constexpr ByteAlphabet MakeByteAlphabet() {
  ByteAlphabet alphabet;
  alphabet.byte_of_code_point.fill(-1);
  int id = 0;
  for (int byte = 0; byte < 256; ++byte) {
    if (!PrintsAsItself(byte)) continue;
    alphabet.byte_by_id[id++] = static_cast<uint8_t>(byte);
    alphabet.code_point[byte] = static_cast<char32_t>(byte);
  }
  char32_t shifted = 0x100;
  for (int byte = 0; byte < 256; ++byte) {
    if (PrintsAsItself(byte)) continue;
    alphabet.byte_by_id[id++] = static_cast<uint8_t>(byte);
    alphabet.code_point[byte] = shifted++;
  }
  for (int byte = 0; byte < 256; ++byte) {
    alphabet.byte_of_code_point[alphabet.code_point[byte]] = static_cast<int16_t>(byte);
  }
  return alphabet;
}

constexpr ByteAlphabet kAlphabet = MakeByteAlphabet();

// Token bytes as encoder.json / vocab.bpe write them (UTF-8 of the alphabet's characters).
std::string Spell(std::string_view bytes) {
  std::string text;
  text.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    char32_t cp = kAlphabet.code_point[byte];
    if (cp < 0x80) {
      text.push_back(static_cast<char>(cp));
    } else {
      text.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      text.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return text;
}

// The inverse of Spell; false when `text` holds anything but characters of the alphabet.
bool Unspell(std::string_view text, std::string* bytes) {
  bytes->clear();
  for (size_t i = 0; i < text.size();) {
    auto lead = static_cast<unsigned char>(text[i]);
    char32_t cp;
    if (lead < 0x80) {
      cp = lead;
      i += 1;
    } else if ((lead & 0xE0) == 0xC0 && i + 1 < text.size() &&
               (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      cp = (static_cast<char32_t>(lead & 0x1F) << 6) | (text[i + 1] & 0x3F);
      if (cp < 0x80) return false;  // overlong
      i += 2;
    } else {
      return false;
    }
    if (cp >= kAlphabet.byte_of_code_point.size() || kAlphabet.byte_of_code_point[cp] < 0) {
      return false;
    }
    bytes->push_back(static_cast<char>(kAlphabet.byte_of_code_point[cp]));
  }
  return true;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), "", "cannot open file");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string JsonPointer(std::string_view key) {
  std::string pointer = "/";
  for (char c : key) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer.push_back(c);
    }
  }
  return pointer;
}

uint64_t PairKey(TokenId left, TokenId right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

struct MergeTarget {
  int32_t rank;
  TokenId merged;
};

constexpr std::array<std::string_view, 5> kSpecialNames = {"<s>", "<pad>", "</s>", "<unk>",
                                                           "<mask>"};

// Pre-tokens are short (a word, a number, a whitespace run); the rare long ones are merged
// afresh rather than let one huge piece pin memory in the cache.
constexpr size_t kMaxCachedPieceBytes = 256;
// Bounds the cache: emptied when full, which costs a little speed on very diverse text only.
constexpr size_t kMaxCacheEntries = size_t{1} << 17;

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct CachedIds {
  uint32_t offset;
  uint32_t size;
};

// One symbol of a pre-token during merging: a doubly linked list over its bytes, so merges
// unlink the right symbol in place; a merged-away symbol has id -1.
struct Symbol {
  TokenId id;
  int32_t prev;
  int32_t next;
};

// A pair (at `pos` and its next symbol) that some merge could join.
struct Candidate {
  int32_t rank;
  int32_t pos;
};

// Heap order: lowest rank first, and within a rank left to right, as GPT-2 scans a word.
bool Later(const Candidate& a, const Candidate& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PreTokenizer

struct PreTokenizer::Pattern {
  pcre2_code* code = nullptr;
  bool jit = false;

  Pattern() {
    const std::string pattern = Gpt2Pattern();
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    // MATCH_INVALID_UTF lets matching run over arbitrary bytes: invalid UTF-8 never matches, so
    // it shows up as gaps between matches, which Next() returns as pre-tokens of their own.
    code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                         PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &error_offset,
                         nullptr);
    ABLATE_CHECK(code != nullptr, "GPT-2's pre-tokenization pattern does not compile");
    // Without JIT support (an unusual PCRE2 build) the interpreter gives the same matches.
    jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  }
  ~Pattern() { pcre2_code_free(code); }
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;
};

struct PreTokenizer::MatchState {
  pcre2_match_data* data;

  MatchState() : data(pcre2_match_data_create(1, nullptr)) {
    ABLATE_CHECK(data != nullptr, "cannot allocate PCRE2 match data");
  }
  ~MatchState() { pcre2_match_data_free(data); }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;
};

PreTokenizer::PreTokenizer()
    : pattern_(std::make_shared<const Pattern>()), state_(std::make_unique<MatchState>()) {}

PreTokenizer::PreTokenizer(const PreTokenizer& other)
    : pattern_(other.pattern_), state_(std::make_unique<MatchState>()) {}

PreTokenizer& PreTokenizer::operator=(const PreTokenizer& other) {
  if (this != &other) *this = PreTokenizer(other);
  return *this;
}

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::Reset(std::string_view text) {
  text_ = text;
  pos_ = 0;
  has_ahead_ = false;
}

bool PreTokenizer::Next(std::string_view* piece) {
  if (pos_ >= text_.size()) return false;
  if (has_ahead_) {
    has_ahead_ = false;
    *piece = text_.substr(ahead_start_, ahead_end_ - ahead_start_);
    pos_ = ahead_end_;
    return true;
  }
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text_.data());
  int rc =
      pattern_->jit
          ? pcre2_jit_match(pattern_->code, subject, text_.size(), pos_, 0, state_->data, nullptr)
          : pcre2_match(pattern_->code, subject, text_.size(), pos_, 0, state_->data, nullptr);
  if (rc == PCRE2_ERROR_NOMATCH) {  // only invalid UTF-8 is left
    *piece = text_.substr(pos_);
    pos_ = text_.size();
    return true;
  }
  ABLATE_CHECK(rc > 0, "PCRE2 failed to match GPT-2's pattern, error " + std::to_string(rc));
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state_->data);
  if (ovector[0] > pos_) {
    has_ahead_ = true;
    ahead_start_ = ovector[0];
    ahead_end_ = ovector[1];
    *piece = text_.substr(pos_, ahead_start_ - pos_);
    pos_ = ahead_start_;
    return true;
  }
  *piece = text_.substr(pos_, ovector[1] - pos_);
  pos_ = ovector[1];
  return true;
}

// ---------------------------------------------------------------------------------------------
// BpeTokenizer

struct BpeTokenizer::Model {
  std::vector<std::string> tokens;                    // id -> bytes
  std::vector<std::pair<TokenId, TokenId>> merges;    // in rank order, as vocab.bpe lists them
  std::unordered_map<uint64_t, MergeTarget> targets;  // PairKey -> its rank and result
  std::array<TokenId, 256> byte_ids{};

  // Derives the lookup tables; every byte and every merge result must be among `tokens`.
  void Index(const std::unordered_map<std::string, TokenId>& ids_by_bytes) {
    for (int byte = 0; byte < 256; ++byte) {
      byte_ids[byte] = ids_by_bytes.at(std::string(1, static_cast<char>(byte)));
    }
    targets.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      auto [left, right] = merges[rank];
      TokenId merged = ids_by_bytes.at(tokens[left] + tokens[right]);
      // A pair listed twice keeps its last rank, as GPT-2's dict(zip(merges, ranks)) does.
      targets[PairKey(left, right)] = {static_cast<int32_t>(rank), merged};
    }
  }
};

struct BpeTokenizer::Session {
  Session() = default;
  explicit Session(const PreTokenizer& shared_pattern) : pre_tokenizer(shared_pattern) {}

  PreTokenizer pre_tokenizer;
  std::unordered_map<std::string, CachedIds, StringHash, std::equal_to<>> cache;
  std::vector<TokenId> cache_ids;
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::vector<int32_t> batch;
};

BpeTokenizer BpeTokenizer::Load(const std::filesystem::path& dir) {
  const std::filesystem::path encoder_path = dir / "encoder.json";
  const std::filesystem::path merges_path = dir / "vocab.bpe";
  const std::string encoder_source = encoder_path.string();
  const std::string merges_source = merges_path.string();

  nlohmann::json encoder;
  try {
    encoder = nlohmann::json::parse(ReadFile(encoder_path));
  } catch (const nlohmann::json::exception& e) {  // parse_error, or a number out of range
    throw InputError(encoder_source, "", std::string("not valid JSON: ") + e.what());
  }
  if (!encoder.is_object() || encoder.empty()) {
    throw InputError(encoder_source, "", "expected a non-empty object {\"token\": id, ...}");
  }
  auto model = std::make_shared<Model>();
  const auto size = static_cast<int64_t>(encoder.size());
  model->tokens.resize(size);
  std::vector<bool> seen(size, false);
  std::unordered_map<std::string, TokenId> ids_by_bytes;
  std::string bytes;
  for (const auto& [key, value] : encoder.items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() >= size) {
      throw InputError(encoder_source, JsonPointer(key),
                       "expected an id in [0, " + std::to_string(size) + "), got " + value.dump());
    }
    const auto id = value.get<TokenId>();
    if (seen[id]) {
      throw InputError(encoder_source, JsonPointer(key),
                       "id " + std::to_string(id) + " is used twice");
    }
    if (!Unspell(key, &bytes)) {
      throw InputError(encoder_source, JsonPointer(key),
                       "token has a character outside GPT-2's byte alphabet");
    }
    seen[id] = true;
    model->tokens[id] = bytes;
    ids_by_bytes.emplace(bytes, id);
  }
  for (int byte = 0; byte < 256; ++byte) {
    if (!ids_by_bytes.contains(std::string(1, static_cast<char>(byte)))) {
      throw InputError(encoder_source, "", "has no token for byte " + std::to_string(byte));
    }
  }

  const std::string merges_text = ReadFile(merges_path);
  std::string_view rest = merges_text;
  int line_number = 0;
  std::string left_bytes;
  std::string right_bytes;
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const std::string where = "line " + std::to_string(++line_number);
    if (line_number == 1) {
      if (!line.starts_with("#version")) {
        throw InputError(merges_source, where, "expected the header \"#version: 0.2\"");
      }
      continue;
    }
    size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos ||
        space == 0 || space + 1 == line.size()) {
      throw InputError(merges_source, where, "expected two tokens separated by one space");
    }
    if (!Unspell(line.substr(0, space), &left_bytes) ||
        !Unspell(line.substr(space + 1), &right_bytes)) {
      throw InputError(merges_source, where, "token has a character outside GPT-2's byte alphabet");
    }
    auto left = ids_by_bytes.find(left_bytes);
    auto right = ids_by_bytes.find(right_bytes);
    if (left == ids_by_bytes.end() || right == ids_by_bytes.end() ||
        !ids_by_bytes.contains(left_bytes + right_bytes)) {
      throw InputError(merges_source, where,
                       "merge of tokens that are not in encoder.json, or whose result is not");
    }
    model->merges.emplace_back(left->second, right->second);
  }
  if (line_number == 0) throw InputError(merges_source, "", "file is empty");
  model->Index(ids_by_bytes);
  return BpeTokenizer(std::move(model));
}

BpeTokenizer BpeTokenizer::FromMerges(std::span<const std::pair<std::string, std::string>> merges) {
  auto model = std::make_shared<Model>();
  std::unordered_map<std::string, TokenId> ids_by_bytes;
  auto id_of = [&](const std::string& bytes) {
    auto [it, added] = ids_by_bytes.emplace(bytes, static_cast<TokenId>(model->tokens.size()));
    if (added) model->tokens.push_back(bytes);
    return it->second;
  };
  for (uint8_t byte : kAlphabet.byte_by_id) id_of(std::string(1, static_cast<char>(byte)));
  for (size_t i = 0; i < merges.size(); ++i) {
    const auto& [left, right] = merges[i];
    auto left_id = ids_by_bytes.find(left);
    auto right_id = ids_by_bytes.find(right);
    if (left_id == ids_by_bytes.end() || right_id == ids_by_bytes.end()) {
      throw InputError("", "/merges/" + std::to_string(i),
                       "merges a token that no byte or earlier merge made");
    }
    model->merges.emplace_back(left_id->second, right_id->second);
    id_of(left + right);
  }
  model->Index(ids_by_bytes);
  return BpeTokenizer(std::move(model));
}

BpeTokenizer::BpeTokenizer(std::shared_ptr<const Model> model)
    : model_(std::move(model)), session_(std::make_unique<Session>()) {}

BpeTokenizer::BpeTokenizer(const BpeTokenizer& other)
    : model_(other.model_), session_(std::make_unique<Session>(other.session_->pre_tokenizer)) {}

BpeTokenizer& BpeTokenizer::operator=(const BpeTokenizer& other) {
  if (this != &other) *this = BpeTokenizer(other);
  return *this;
}

BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;
BpeTokenizer::~BpeTokenizer() = default;

void BpeTokenizer::Save(const std::filesystem::path& dir) const {
  std::filesystem::create_directories(dir);
  // Written in id order and ASCII-escaped like GPT-2's own file, which this reproduces byte for
  // byte (built by hand: nlohmann's ordered_json inserts in linear time per key).
  std::string encoder = "{";
  for (size_t id = 0; id < model_->tokens.size(); ++id) {
    if (id > 0) encoder += ", ";
    encoder += nlohmann::json(Spell(model_->tokens[id])).dump(-1, ' ', /*ensure_ascii=*/true);
    encoder += ": " + std::to_string(id);
  }
  encoder += "}";
  WriteFile(dir / "encoder.json", encoder);

  std::string merges = "#version: 0.2\n";
  for (auto [left, right] : model_->merges) {
    merges += Spell(model_->tokens[left]) + " " + Spell(model_->tokens[right]) + "\n";
  }
  WriteFile(dir / "vocab.bpe", merges);
}

void BpeTokenizer::Encode(std::string_view text, std::vector<TokenId>* ids) {
  PreTokenizer& pre_tokenizer = session_->pre_tokenizer;
  pre_tokenizer.Reset(text);
  std::string_view piece;
  while (pre_tokenizer.Next(&piece)) {
    if (piece.size() == 1) {
      ids->push_back(model_->byte_ids[static_cast<unsigned char>(piece[0])]);
    } else {
      EncodePiece(piece, ids);
    }
  }
}

std::vector<TokenId> BpeTokenizer::Encode(std::string_view text) {
  std::vector<TokenId> ids;
  Encode(text, &ids);
  return ids;
}

void BpeTokenizer::EncodePiece(std::string_view piece, std::vector<TokenId>* ids) {
  Session& session = *session_;
  if (piece.size() > kMaxCachedPieceBytes) {
    MergePiece(piece, ids);
    return;
  }
  if (auto hit = session.cache.find(piece); hit != session.cache.end()) {
    auto first = session.cache_ids.begin() + hit->second.offset;
    ids->insert(ids->end(), first, first + hit->second.size);
    return;
  }
  if (session.cache.size() >= kMaxCacheEntries) {
    session.cache.clear();
    session.cache_ids.clear();
  }
  const size_t before = ids->size();
  MergePiece(piece, ids);
  session.cache.emplace(piece, CachedIds{static_cast<uint32_t>(session.cache_ids.size()),
                                         static_cast<uint32_t>(ids->size() - before)});
  session.cache_ids.insert(session.cache_ids.end(), ids->begin() + before, ids->end());
}

// GPT-2's bpe(): repeatedly take the lowest-ranked adjacent pair and join all its occurrences,
// left to right. A heap of candidate pairs makes this O(n log n) in the piece's length instead
// of GPT-2's quadratic rescans, which matters for long runs of one character.
void BpeTokenizer::MergePiece(std::string_view piece, std::vector<TokenId>* ids) {
  const Model& model = *model_;
  std::vector<Symbol>& symbols = session_->symbols;
  std::vector<Candidate>& heap = session_->heap;
  std::vector<int32_t>& batch = session_->batch;
  if (piece.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw InputError("a run of more than 2^31 bytes without a pre-token boundary");
  }
  const auto n = static_cast<int32_t>(piece.size());

  symbols.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = {model.byte_ids[static_cast<unsigned char>(piece[i])], i - 1,
                  i + 1 < n ? i + 1 : -1};
  }
  // The rank of the pair starting at `pos`, or -1 when no merge joins it.
  auto find_target = [&](int32_t pos) -> const MergeTarget* {
    int32_t next = symbols[pos].next;
    if (next < 0) return nullptr;
    auto it = model.targets.find(PairKey(symbols[pos].id, symbols[next].id));
    return it == model.targets.end() ? nullptr : &it->second;
  };
  auto push = [&](int32_t pos) {
    if (const MergeTarget* target = find_target(pos)) {
      heap.push_back({target->rank, pos});
      std::push_heap(heap.begin(), heap.end(), Later);
    }
  };
  heap.clear();
  for (int32_t i = 0; i + 1 < n; ++i) push(i);

  while (!heap.empty()) {
    // Every occurrence of this rank's pair is in the heap now: pairs formed by joining it
    // contain the longer token, so they are other pairs. Take them all before new ones.
    const int32_t rank = heap.front().rank;
    batch.clear();
    while (!heap.empty() && heap.front().rank == rank) {
      std::pop_heap(heap.begin(), heap.end(), Later);
      batch.push_back(heap.back().pos);
      heap.pop_back();
    }
    for (int32_t pos : batch) {
      Symbol& left = symbols[pos];
      if (left.id < 0) continue;  // joined into its left neighbour earlier in this batch
      const MergeTarget* target = find_target(pos);
      if (target == nullptr || target->rank != rank) continue;  // its right neighbour changed
      const int32_t right = left.next;
      left.id = target->merged;
      left.next = symbols[right].next;
      if (left.next >= 0) symbols[left.next].prev = pos;
      symbols[right].id = -1;
      if (left.prev >= 0) push(left.prev);
      push(pos);
    }
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids->push_back(symbols[i].id);
}

std::string BpeTokenizer::Decode(std::span<const TokenId> ids) const {
  std::string bytes;
  for (TokenId id : ids) {
    if (id >= 0 && id < bpe_vocab_size()) {
      bytes += model_->tokens[id];
    } else if (IsSpecial(id)) {
      bytes += kSpecialNames[id - bpe_vocab_size()];
    } else {
      throw InputError("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                       std::to_string(vocab_size()) + ")");
    }
  }
  return bytes;
}

std::string_view BpeTokenizer::TokenBytes(TokenId id) const {
  ABLATE_CHECK(id >= 0 && id < bpe_vocab_size(), "TokenBytes of a non-BPE id");
  return model_->tokens[id];
}

TokenId BpeTokenizer::bpe_vocab_size() const { return static_cast<TokenId>(model_->tokens.size()); }

}  // namespace ablate::core
