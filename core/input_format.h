// The paper's four input formats (Liu et al. 2019, section 4.2), built from a tokenized corpus:
//   SEGMENT-PAIR+NSP   BERT's pairs of multi-sentence segments, B the true continuation with p=0.5
//   SENTENCE-PAIR+NSP  pairs of single sentences, contiguous or from another document
//   FULL-SENTENCES     whole sentences packed up to seq_len, crossing documents with a separator
//   DOC-SENTENCES      the same without crossing document boundaries
// An example is a pair of token ranges of the corpus (B empty for the packed formats); examples
// are cheap to hold for a whole epoch and are turned into ids only when batched. Masking and
// batching live elsewhere (masking.h, batcher.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/token_corpus.h"

namespace ablate::core {

enum class InputFormat { kSegmentPair, kSentencePair, kFullSentences, kDocSentences };

// Every input format, in the paper's order: the table data.format's choices come from.
const std::vector<InputFormat>& InputFormats();
// Parses the names used in grids ("SEGMENT-PAIR+NSP", ...); throws InputError otherwise.
InputFormat ParseInputFormat(std::string_view name);
std::string_view InputFormatName(InputFormat format);
// The names of InputFormats(), in order.
std::vector<std::string> InputFormatNames();
bool HasNsp(InputFormat format);
// SENTENCE-PAIR+NSP and DOC-SENTENCES fill batches by tokens (their sequences are short or
// variable), the other two by sequence count.
bool BatchesByTokens(InputFormat format);

struct SpecialIds {
  int32_t bos = 0;  // <s>: first token of every sequence
  int32_t eos = 0;  // </s>: ends segments, and separates documents in FULL-SENTENCES
  int32_t pad = 0;
};

struct FormatOptions {
  InputFormat format = InputFormat::kFullSentences;
  int seq_len = 0;            // including the special tokens (the run's data.seq_len)
  double short_seq_prob = 0;  // SEGMENT-PAIR+NSP: chance of a random shorter target length
  uint64_t seed = 0;
};

constexpr int8_t kNoNspLabel = -1;

// Token ranges [a_begin, a_end) and [b_begin, b_end) of the corpus. nsp: 1 when B is the true
// continuation of A, 0 when it comes from another document, kNoNspLabel without NSP.
struct Example {
  uint64_t a_begin = 0, a_end = 0;
  uint64_t b_begin = 0, b_end = 0;
  int8_t nsp = kNoNspLabel;
};

// The examples of one version of the data. The packed formats do not depend on `version`; the
// NSP formats draw their pairs from (seed, version), so static masking can pair each of its K
// copies with its own pairs, as BERT's duplicated data did.
std::vector<Example> BuildExamples(const TokenCorpus& corpus, const FormatOptions& options,
                                   uint64_t version);

// Writes the example's ids (<s> A </s> [B </s>], with </s> between documents inside a packed
// range) and segment ids (0 for <s> A </s>, 1 for B </s>) into the output vectors, replacing
// their contents. The length never exceeds options.seq_len.
void MaterializeExample(const TokenCorpus& corpus, const Example& example,
                        const FormatOptions& options, const SpecialIds& ids,
                        std::vector<int32_t>& tokens, std::vector<int8_t>& segments);

// The number of ids MaterializeExample writes, without writing them.
uint64_t ExampleLength(const TokenCorpus& corpus, const Example& example);

}  // namespace ablate::core
