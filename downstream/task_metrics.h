// Scores fine-tuning predictions as the tasks' official scripts do: SQuAD's evaluate-v1.1 and
// evaluate-v2.0 (exact match and token F1 over normalized answers, the best over the gold answers)
// and GLUE's accuracy, F1 and Matthews correlation, and each example's part in the metrics that
// are means over examples. It does not make predictions (finetune.h does).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "downstream/task_data.h"

namespace ablate::downstream {

// The names of the downstream metrics (eval/<task>/<name>, in percent).
inline constexpr const char* kMetricAcc = "acc";  // accuracy
inline constexpr const char* kMetricF1 = "f1";    // F1 of the positive class; SQuAD's token F1
inline constexpr const char* kMetricEm = "em";    // SQuAD's exact match
inline constexpr const char* kMetricMcc = "mcc";  // Matthews correlation (CoLA)

// The official SQuAD normalisation: lower case, punctuation removed, articles (a, an, the) removed,
// whitespace collapsed. As in the official script, punctuation is Python's string.punctuation
// (ASCII), articles are whole words (Unicode word boundaries) and whitespace is Python's
// str.isspace; lower-casing is ASCII only (other bytes pass through unchanged).
std::string NormalizeAnswer(std::string_view text);

double SquadExactMatch(std::string_view prediction, std::string_view gold);  // 0 or 1
// Token F1 of the normalized answers; when either is empty, 1 if both are, else 0 (v2.0's rule).
double SquadF1(std::string_view prediction, std::string_view gold);  // 0..1

// Scores one prediction per dev example (same order; "" = no answer) as the official
// evaluate-v1.1 / evaluate-v2.0 scripts do: max over the gold answers; an impossible example's
// only gold answer is "". Returns {"f1", "em"} in percent (0..100). As in evaluate-v2.0, gold
// answers that normalize to nothing are dropped, and an example left with none counts as
// impossible.
std::map<std::string, double> ScoreSpans(const std::vector<SpanExample>& dev,
                                         const std::vector<std::string>& predictions);

// One dev example's part in a metric that is a mean over the dev examples, as (numerator,
// denominator): over any multiset of the examples the metric, in percent as reported, is the sum
// of the numerators over the sum of the denominators (what a bootstrap over examples resamples).
using ExampleOutcomes = std::vector<std::pair<double, double>>;
// By metric name, the outcome of each dev example in the dev set's order.
using ExampleOutcomesByMetric = std::map<std::string, ExampleOutcomes>;

// Per example, ScoreSpans's two metrics: "f1" (100 * the example's best F1, 1) and "em" (100 * its
// exact match, 1). Their means are ScoreSpans's scores.
ExampleOutcomesByMetric SpanOutcomes(const std::vector<SpanExample>& dev,
                                     const std::vector<std::string>& predictions);

// The named metrics ("acc", "f1" of class 1, "mcc") in percent (0..100; mcc * 100). mcc is the
// multi-class form (Gorodkin's R_K, as sklearn computes it), equal to Matthews' for two classes;
// an undefined F1 or mcc (a zero denominator) is 0, as sklearn reports it.
std::map<std::string, double> ScoreClassification(const std::vector<int>& gold,
                                                  const std::vector<int>& predicted,
                                                  const std::vector<std::string>& metrics);

// Per example, the metrics of `metrics` that are means over examples: "acc" (100 if right else 0,
// 1). F1 and mcc are not means over examples (a resample's F1 is not the mean of per-example
// parts) and have no per-example outcomes.
ExampleOutcomesByMetric ClassificationOutcomes(const std::vector<int>& gold,
                                               const std::vector<int>& predicted,
                                               const std::vector<std::string>& metrics);

}  // namespace ablate::downstream
