#include "downstream/task_metrics.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "base/error.h"

namespace ablate::downstream {
namespace {

constexpr std::string_view kPunctuation = R"(!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)";

// The official script's re.sub(r'\b(a|an|the)\b', ' ', text), with Python 3's Unicode notion of a
// word character (letters, digits, underscore), so "—the" loses its article but "éthe" does not.
class ArticlePattern {
 public:
  ArticlePattern() {
    constexpr std::string_view pattern = R"(\b(?:a|an|the)\b)";
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &error_offset,
                          nullptr);
    ABLATE_CHECK(code_ != nullptr, "the SQuAD article pattern does not compile");
  }
  ~ArticlePattern() { pcre2_code_free(code_); }
  ArticlePattern(const ArticlePattern&) = delete;
  ArticlePattern& operator=(const ArticlePattern&) = delete;

  std::string ReplaceWithSpaces(std::string_view text) const {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    ABLATE_CHECK(data != nullptr, "cannot allocate PCRE2 match data");
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::string out;
    size_t pos = 0;
    int rc = 0;
    while ((rc = pcre2_match(code_, subject, text.size(), pos, 0, data, nullptr)) > 0) {
      const PCRE2_SIZE* match = pcre2_get_ovector_pointer(data);
      out.append(text.substr(pos, match[0] - pos));
      out.push_back(' ');
      pos = match[1];
    }
    pcre2_match_data_free(data);
    ABLATE_CHECK(rc == PCRE2_ERROR_NOMATCH, "PCRE2 match failed, error " + std::to_string(rc));
    out.append(text.substr(pos));
    return out;
  }

 private:
  pcre2_code* code_ = nullptr;
};

// The length in bytes of the Python whitespace character (str.isspace) at text[i], or 0.
size_t SpaceLength(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u; };
  const unsigned c = byte(i), c1 = byte(i + 1), c2 = byte(i + 2);
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return 1;
  if (c == 0xC2 && (c1 == 0x85 || c1 == 0xA0)) return 2;  // U+0085, U+00A0
  if (c == 0xE1 && c1 == 0x9A && c2 == 0x80) return 3;    // U+1680
  if (c == 0xE2 && c1 == 0x80 &&
      ((c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF)) {
    return 3;  // U+2000..U+200A, U+2028, U+2029, U+202F
  }
  if (c == 0xE2 && c1 == 0x81 && c2 == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && c1 == 0x80 && c2 == 0x80) return 3;  // U+3000
  return 0;
}

std::vector<std::string_view> Tokens(std::string_view normalized) {
  std::vector<std::string_view> tokens;
  for (size_t begin = 0; begin < normalized.size();) {
    const auto space = std::min(normalized.find(' ', begin), normalized.size());
    tokens.push_back(normalized.substr(begin, space - begin));
    begin = space + 1;
  }
  return tokens;
}

double TokenF1(std::string_view normalized_prediction, std::string_view normalized_gold) {
  const auto prediction = Tokens(normalized_prediction);
  const auto gold = Tokens(normalized_gold);
  if (prediction.empty() || gold.empty()) return prediction == gold ? 1.0 : 0.0;
  std::unordered_map<std::string_view, int> unmatched;
  for (auto token : gold) ++unmatched[token];
  int same = 0;
  for (auto token : prediction) {
    auto it = unmatched.find(token);
    if (it != unmatched.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  const double precision = static_cast<double>(same) / static_cast<double>(prediction.size());
  const double recall = static_cast<double>(same) / static_cast<double>(gold.size());
  return 2 * precision * recall / (precision + recall);
}

}  // namespace

std::string NormalizeAnswer(std::string_view text) {
  std::string lowered;
  lowered.reserve(text.size());
  for (char c : text) {
    if (kPunctuation.find(c) != std::string_view::npos) continue;
    lowered.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  // Compiled once and only read afterwards; each call matches with its own match data.
  static const ArticlePattern articles;
  const std::string spaced = articles.ReplaceWithSpaces(lowered);
  std::string out;
  out.reserve(spaced.size());
  bool pending_space = false;
  for (size_t i = 0; i < spaced.size();) {
    if (const size_t n = SpaceLength(spaced, i)) {
      pending_space = !out.empty();
      i += n;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(spaced[i++]);
  }
  return out;
}

double SquadExactMatch(std::string_view prediction, std::string_view gold) {
  return NormalizeAnswer(prediction) == NormalizeAnswer(gold) ? 1.0 : 0.0;
}

double SquadF1(std::string_view prediction, std::string_view gold) {
  return TokenF1(NormalizeAnswer(prediction), NormalizeAnswer(gold));
}

namespace {

// Per example, the best token F1 and exact match (0..1) of its prediction over its gold answers.
std::vector<std::pair<double, double>> BestSpanScores(const std::vector<SpanExample>& dev,
                                                      const std::vector<std::string>& predictions) {
  ABLATE_CHECK(dev.size() == predictions.size(),
               "ScoreSpans needs one prediction per example: " + std::to_string(dev.size()) +
                   " examples, " + std::to_string(predictions.size()) + " predictions");
  std::vector<std::pair<double, double>> scores;
  scores.reserve(dev.size());
  for (size_t i = 0; i < dev.size(); ++i) {
    const std::string prediction = NormalizeAnswer(predictions[i]);
    std::vector<std::string> golds;
    for (const auto& answer : dev[i].answers) {
      auto gold = NormalizeAnswer(answer.text);
      if (!gold.empty()) golds.push_back(std::move(gold));
    }
    if (golds.empty()) golds.emplace_back();
    double best_f1 = 0, best_em = 0;
    for (const auto& gold : golds) {
      best_em = std::max(best_em, prediction == gold ? 1.0 : 0.0);
      best_f1 = std::max(best_f1, TokenF1(prediction, gold));
    }
    scores.emplace_back(best_f1, best_em);
  }
  return scores;
}

}  // namespace

std::map<std::string, double> ScoreSpans(const std::vector<SpanExample>& dev,
                                         const std::vector<std::string>& predictions) {
  double f1 = 0, em = 0;
  for (const auto& [example_f1, example_em] : BestSpanScores(dev, predictions)) {
    f1 += example_f1;
    em += example_em;
  }
  const double n = static_cast<double>(std::max<size_t>(dev.size(), 1));
  return {{kMetricF1, 100 * f1 / n}, {kMetricEm, 100 * em / n}};
}

ExampleOutcomesByMetric SpanOutcomes(const std::vector<SpanExample>& dev,
                                     const std::vector<std::string>& predictions) {
  ExampleOutcomesByMetric out;
  ExampleOutcomes& f1 = out[kMetricF1];
  ExampleOutcomes& em = out[kMetricEm];
  for (const auto& [example_f1, example_em] : BestSpanScores(dev, predictions)) {
    f1.emplace_back(100 * example_f1, 1.0);
    em.emplace_back(100 * example_em, 1.0);
  }
  return out;
}

std::map<std::string, double> ScoreClassification(const std::vector<int>& gold,
                                                  const std::vector<int>& predicted,
                                                  const std::vector<std::string>& metrics) {
  ABLATE_CHECK(
      gold.size() == predicted.size(),
      "ScoreClassification needs one prediction per example: " + std::to_string(gold.size()) +
          " labels, " + std::to_string(predicted.size()) + " predictions");
  const double n = static_cast<double>(gold.size());
  double correct = 0, true_positive = 0, gold_positive = 0, predicted_positive = 0;
  std::map<int, double> gold_count, predicted_count;
  for (size_t i = 0; i < gold.size(); ++i) {
    correct += gold[i] == predicted[i];
    true_positive += gold[i] == 1 && predicted[i] == 1;
    gold_positive += gold[i] == 1;
    predicted_positive += predicted[i] == 1;
    ++gold_count[gold[i]];
    ++predicted_count[predicted[i]];
  }
  std::map<std::string, double> out;
  for (const auto& metric : metrics) {
    if (metric == kMetricAcc) {
      out[metric] = n == 0 ? 0.0 : 100 * correct / n;
    } else if (metric == kMetricF1) {
      const double denominator = gold_positive + predicted_positive;
      out[metric] = denominator == 0 ? 0.0 : 100 * 2 * true_positive / denominator;
    } else if (metric == kMetricMcc) {
      // cov(gold, predicted) / sqrt(cov(gold, gold) * cov(predicted, predicted)), each scaled by
      // n².
      double gold_squares = 0, predicted_squares = 0, products = 0;
      for (const auto& [label, count] : gold_count) {
        gold_squares += count * count;
        auto it = predicted_count.find(label);
        if (it != predicted_count.end()) products += count * it->second;
      }
      for (const auto& [label, count] : predicted_count) predicted_squares += count * count;
      const double denominator = std::sqrt((n * n - gold_squares) * (n * n - predicted_squares));
      out[metric] = denominator == 0 ? 0.0 : 100 * (correct * n - products) / denominator;
    } else {
      ABLATE_CHECK(false, "unknown classification metric \"" + metric + "\" (" + kMetricAcc + ", " +
                              kMetricF1 + " or " + kMetricMcc + ")");
    }
  }
  return out;
}

ExampleOutcomesByMetric ClassificationOutcomes(const std::vector<int>& gold,
                                               const std::vector<int>& predicted,
                                               const std::vector<std::string>& metrics) {
  ABLATE_CHECK(
      gold.size() == predicted.size(),
      "ClassificationOutcomes needs one prediction per example: " + std::to_string(gold.size()) +
          " labels, " + std::to_string(predicted.size()) + " predictions");
  ExampleOutcomesByMetric out;
  if (std::find(metrics.begin(), metrics.end(), kMetricAcc) == metrics.end()) return out;
  ExampleOutcomes& acc = out[kMetricAcc];
  for (size_t i = 0; i < gold.size(); ++i)
    acc.emplace_back(gold[i] == predicted[i] ? 100.0 : 0.0, 1.0);
  return out;
}

}  // namespace ablate::downstream
