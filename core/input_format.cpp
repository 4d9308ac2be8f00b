#include "core/input_format.h"

#include <algorithm>

#include "base/error.h"
#include "base/rng.h"

namespace ablate::core {
namespace {

constexpr uint64_t kSegmentPairDomain = 0x73656770;   // "segp"
constexpr uint64_t kSentencePairDomain = 0x73656e70;  // "senp"

struct Range {
  uint64_t begin = 0, end = 0;
  uint64_t size() const { return end - begin; }
};

// Documents d' with DocumentTokenBegin(d') strictly inside (begin, end), counted once per distinct
// offset (an empty document starts where the next one does). Each gets a separator.
template <typename Visit>
void ForEachInnerDocumentStart(const TokenCorpus& corpus, uint64_t begin, uint64_t end,
                               Visit visit) {
  // Binary search for the first document starting after `begin`.
  uint64_t lo = 0, hi = corpus.DocumentCount();
  while (lo < hi) {
    uint64_t mid = (lo + hi) / 2;
    if (corpus.DocumentTokenBegin(mid) <= begin) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  uint64_t last = begin;
  for (uint64_t d = lo; d < corpus.DocumentCount(); ++d) {
    uint64_t start = corpus.DocumentTokenBegin(d);
    if (start >= end) break;
    if (start != last) visit(start);
    last = start;
  }
}

// FULL-SENTENCES and DOC-SENTENCES: whole sentences, in corpus order, packed into blocks of at
// most seq_len - 2 tokens (room for <s> and </s>). A separator </s> costs one token where a block
// crosses into a new document. A sentence longer than a block is cut into block-sized pieces.
std::vector<Example> PackSentences(const TokenCorpus& corpus, const FormatOptions& options) {
  const uint64_t capacity = static_cast<uint64_t>(options.seq_len - 2);
  const bool cross_documents = options.format == InputFormat::kFullSentences;
  std::vector<Example> out;
  // Room for about every block at once: a vector that doubles as it grows holds up to three times
  // its size at its peak (old and new buffers), a third of a run's memory on a large corpus.
  out.reserve(corpus.TokenCount() / std::max<uint64_t>(capacity, 1) +
              (cross_documents ? 1 : corpus.DocumentCount()) + 1);
  bool open = false;
  Example block;
  uint64_t used = 0;
  auto close = [&] {
    if (open) out.push_back(block);
    open = false;
    used = 0;
  };
  for (uint64_t d = 0; d < corpus.DocumentCount(); ++d) {
    if (!cross_documents) close();
    bool document_start = true;
    for (uint64_t s = corpus.document_offsets[d]; s < corpus.document_offsets[d + 1]; ++s) {
      uint64_t begin = corpus.SentenceBegin(s), end = corpus.SentenceEnd(s), length = end - begin;
      if (length == 0) continue;
      uint64_t separator = open && document_start ? 1 : 0;
      document_start = false;
      if (open && used + separator + length <= capacity) {
        block.a_end = end;
        used += separator + length;
        continue;
      }
      close();
      if (length <= capacity) {
        block = Example{begin, end, 0, 0, kNoNspLabel};
        open = true;
        used = length;
        continue;
      }
      for (uint64_t p = begin; p < end; p += capacity) {
        out.push_back(Example{p, std::min(p + capacity, end), 0, 0, kNoNspLabel});
      }
    }
  }
  close();
  return out;
}

Range SentenceRange(const TokenCorpus& corpus, uint64_t first, uint64_t last_exclusive) {
  return {corpus.SentenceBegin(first), corpus.SentenceBegin(last_exclusive)};
}

uint64_t OtherDocument(const TokenCorpus& corpus, uint64_t d, Rng& rng) {
  // Uniform over the other documents.
  uint64_t other = rng.Below(corpus.DocumentCount() - 1);
  return other >= d ? other + 1 : other;
}

// BERT's truncate_seq_pair: trim the longer segment, from its front or back at random, until the
// pair fits.
void TruncatePair(Range& a, Range& b, uint64_t max_tokens, Rng& rng) {
  while (a.size() + b.size() > max_tokens) {
    Range& longer = a.size() > b.size() ? a : b;
    if (rng.Uniform() < 0.5) {
      ++longer.begin;
    } else {
      --longer.end;
    }
  }
}

Example MakePair(Range a, Range b, int8_t nsp) { return {a.begin, a.end, b.begin, b.end, nsp}; }

// SEGMENT-PAIR+NSP: Devlin et al.'s create_instances_from_document. Sentences accumulate into a
// chunk until it reaches the target length (seq_len - 3, or with probability short_seq_prob a
// uniform length in [2, seq_len - 3]); a random prefix of the chunk is A; B is the rest of the
// chunk (label 1) or, with probability 0.5 or when the chunk is one sentence, a run of sentences
// from a random position of another document filling the remaining length (label 0; the unused
// rest of the chunk goes back to the document). Finally the pair is truncated to seq_len - 3.
std::vector<Example> SegmentPairs(const TokenCorpus& corpus, const FormatOptions& options,
                                  uint64_t version) {
  const uint64_t max_tokens = static_cast<uint64_t>(options.seq_len - 3);
  std::vector<Example> out;
  for (uint64_t d = 0; d < corpus.DocumentCount(); ++d) {
    Rng rng({options.seed, kSegmentPairDomain, version, d});
    uint64_t target = max_tokens;
    if (rng.Uniform() < options.short_seq_prob) target = 2 + rng.Below(max_tokens - 1);
    const uint64_t first = corpus.document_offsets[d], last = corpus.document_offsets[d + 1];
    uint64_t chunk_begin = first, chunk_tokens = 0;
    for (uint64_t i = first; i < last; ++i) {
      chunk_tokens += corpus.SentenceEnd(i) - corpus.SentenceBegin(i);
      if (i + 1 != last && chunk_tokens < target) continue;
      const uint64_t chunk_count = i + 1 - chunk_begin;
      if (chunk_tokens > 0) {
        uint64_t a_count = chunk_count < 2 ? 1 : 1 + rng.Below(chunk_count - 1);
        Range a = SentenceRange(corpus, chunk_begin, chunk_begin + a_count);
        Range b;
        int8_t nsp = 1;
        if (chunk_count == 1 || rng.Uniform() < 0.5) {
          nsp = 0;
          uint64_t target_b = target > a.size() ? target - a.size() : 1;
          uint64_t other = OtherDocument(corpus, d, rng);
          uint64_t o_first = corpus.document_offsets[other],
                   o_last = corpus.document_offsets[other + 1];
          uint64_t start = o_first + rng.Below(std::max<uint64_t>(o_last - o_first, 1));
          uint64_t stop = start;
          while (stop < o_last &&
                 corpus.SentenceBegin(stop) - corpus.SentenceBegin(start) < target_b) {
            ++stop;
          }
          b = SentenceRange(corpus, start, stop);
          i -= chunk_count - a_count;  // put the unused sentences back
        } else {
          b = SentenceRange(corpus, chunk_begin + a_count, i + 1);
        }
        TruncatePair(a, b, max_tokens, rng);
        if (a.size() > 0 && b.size() > 0) out.push_back(MakePair(a, b, nsp));
      }
      chunk_begin = i + 1;
      chunk_tokens = 0;
    }
  }
  return out;
}

// SENTENCE-PAIR+NSP: A is one sentence; B is the next sentence (label 1) with probability 0.5,
// else a random sentence of another document (label 0), always so for a document's last
// sentence. A true pair consumes both sentences. Pairs are truncated to seq_len - 3.
std::vector<Example> SentencePairs(const TokenCorpus& corpus, const FormatOptions& options,
                                   uint64_t version) {
  const uint64_t max_tokens = static_cast<uint64_t>(options.seq_len - 3);
  std::vector<Example> out;
  for (uint64_t d = 0; d < corpus.DocumentCount(); ++d) {
    Rng rng({options.seed, kSentencePairDomain, version, d});
    const uint64_t last = corpus.document_offsets[d + 1];
    for (uint64_t i = corpus.document_offsets[d]; i < last;) {
      Range a = SentenceRange(corpus, i, i + 1);
      bool next = rng.Uniform() >= 0.5 && i + 1 < last;
      if (a.size() == 0) {
        ++i;
        continue;
      }
      Range b;
      if (next) {
        b = SentenceRange(corpus, i + 1, i + 2);
        i += 2;
      } else {
        uint64_t other = OtherDocument(corpus, d, rng);
        uint64_t o_first = corpus.document_offsets[other],
                 o_last = corpus.document_offsets[other + 1];
        if (o_last > o_first) {
          uint64_t s = o_first + rng.Below(o_last - o_first);
          b = SentenceRange(corpus, s, s + 1);
        }
        i += 1;
      }
      TruncatePair(a, b, max_tokens, rng);
      if (a.size() > 0 && b.size() > 0) out.push_back(MakePair(a, b, next ? 1 : 0));
    }
  }
  return out;
}

}  // namespace

const std::vector<InputFormat>& InputFormats() {
  static const std::vector<InputFormat> formats = {
      InputFormat::kSegmentPair, InputFormat::kSentencePair, InputFormat::kFullSentences,
      InputFormat::kDocSentences};
  return formats;
}

std::vector<std::string> InputFormatNames() {
  std::vector<std::string> names;
  for (const InputFormat f : InputFormats()) names.emplace_back(InputFormatName(f));
  return names;
}

InputFormat ParseInputFormat(std::string_view name) {
  for (const InputFormat f : InputFormats()) {
    if (InputFormatName(f) == name) return f;
  }
  throw InputError("", "data.format", "unknown input format \"" + std::string(name) + "\"");
}

std::string_view InputFormatName(InputFormat format) {
  switch (format) {
    case InputFormat::kSegmentPair:
      return "SEGMENT-PAIR+NSP";
    case InputFormat::kSentencePair:
      return "SENTENCE-PAIR+NSP";
    case InputFormat::kFullSentences:
      return "FULL-SENTENCES";
    case InputFormat::kDocSentences:
      return "DOC-SENTENCES";
  }
  return "?";
}

bool HasNsp(InputFormat format) {
  return format == InputFormat::kSegmentPair || format == InputFormat::kSentencePair;
}

bool BatchesByTokens(InputFormat format) {
  return format == InputFormat::kSentencePair || format == InputFormat::kDocSentences;
}

std::vector<Example> BuildExamples(const TokenCorpus& corpus, const FormatOptions& options,
                                   uint64_t version) {
  if (options.seq_len < 8) throw InputError("", "data.seq_len", "must be at least 8");
  if (HasNsp(options.format) && corpus.DocumentCount() < 2) {
    throw InputError("", "data.format",
                     std::string(InputFormatName(options.format)) +
                         " needs at least two documents (B may come from another document)");
  }
  switch (options.format) {
    case InputFormat::kSegmentPair:
      return SegmentPairs(corpus, options, version);
    case InputFormat::kSentencePair:
      return SentencePairs(corpus, options, version);
    case InputFormat::kFullSentences:
    case InputFormat::kDocSentences:
      return PackSentences(corpus, options);
  }
  return {};
}

uint64_t ExampleLength(const TokenCorpus& corpus, const Example& e) {
  if (e.nsp != kNoNspLabel) return 3 + (e.a_end - e.a_begin) + (e.b_end - e.b_begin);
  uint64_t separators = 0;
  ForEachInnerDocumentStart(corpus, e.a_begin, e.a_end, [&](uint64_t) { ++separators; });
  return 2 + (e.a_end - e.a_begin) + separators;
}

void MaterializeExample(const TokenCorpus& corpus, const Example& e, const FormatOptions& options,
                        const SpecialIds& ids, std::vector<int32_t>& tokens,
                        std::vector<int8_t>& segments) {
  tokens.clear();
  segments.clear();
  auto append = [&](uint64_t begin, uint64_t end) {
    if (corpus.tokens16.empty()) {
      tokens.insert(tokens.end(), corpus.tokens32.begin() + begin, corpus.tokens32.begin() + end);
    } else {
      tokens.insert(tokens.end(), corpus.tokens16.begin() + begin, corpus.tokens16.begin() + end);
    }
  };
  tokens.push_back(ids.bos);
  if (e.nsp != kNoNspLabel) {
    append(e.a_begin, e.a_end);
    tokens.push_back(ids.eos);
    segments.assign(tokens.size(), 0);
    append(e.b_begin, e.b_end);
    tokens.push_back(ids.eos);
    segments.resize(tokens.size(), 1);
  } else {
    uint64_t from = e.a_begin;
    ForEachInnerDocumentStart(corpus, e.a_begin, e.a_end, [&](uint64_t start) {
      append(from, start);
      tokens.push_back(ids.eos);
      from = start;
    });
    append(from, e.a_end);
    tokens.push_back(ids.eos);
    segments.assign(tokens.size(), 0);
  }
  ABLATE_CHECK(tokens.size() <= static_cast<size_t>(options.seq_len),
               "example longer than seq_len");
}

}  // namespace ablate::core
