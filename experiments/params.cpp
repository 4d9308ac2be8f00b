#include "experiments/params.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "base/error.h"
#include "base/number_text.h"
#include "base/suggest.h"
#include "experiments/run_config.h"

namespace ablate::experiments {
namespace {

using nlohmann::json;

// A row's binding to its field: the members from RunConfig down, e.g. (&RunConfig::model,
// &core::ModelConfig::layers). The value is checked and canonical, so it converts as it is.
template <class... Members>
ParamSpec::Bind Member(Members... members) {
  return [=](RunConfig& config, const json& value) {
    auto& field = (config.*....*members);
    field = value.get<std::remove_reference_t<decltype(field)>>();
  };
}

// Likewise for a field whose type is not the value's: `parse` turns the value into it.
template <class Parse, class... Members>
ParamSpec::Bind Parsed(Parse parse, Members... members) {
  return [=](RunConfig& config, const json& value) { (config.*....*members) = parse(value); };
}

core::InputFormat ParseFormat(const json& value) {
  return core::ParseInputFormat(value.get<std::string>());
}

core::MaskingMode ParseMasking(const json& value) {
  return core::ParseMaskingMode(value.get<std::string>());
}

// eval.tasks, parsed once: a bad entry is an InputError at "eval.tasks".
std::vector<downstream::TaskSpec> ParseTasks(const json& value) {
  return downstream::ParseTaskSpecs(value.get<std::string>());
}

// eval.lrs: "1e-5,2e-5" -> {1e-5, 2e-5}; "" -> {} (the paper's per task).
std::vector<double> ParseRates(const json& value) {
  const auto& text = value.get_ref<const std::string&>();
  std::vector<double> rates;
  for (size_t begin = 0; !text.empty() && begin <= text.size();) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    char* stop = nullptr;
    const double rate = std::strtod(item.c_str(), &stop);
    while (*stop == ' ') ++stop;
    if (item.empty() || *stop != '\0' || !(rate > 0)) {
      throw InputError(
          "", "eval.lrs",
          "\"" + text + "\": expected positive numbers separated by commas, got \"" + item + "\"");
    }
    rates.push_back(rate);
    begin = end + 1;
  }
  return rates;
}

// eval.weight_decay: -1 = the paper's per task (unset), else the value itself.
std::optional<double> ParseFinetuneDecay(const json& value) {
  const double decay = value.get<double>();
  if (decay == -1) return std::nullopt;
  if (decay < 0) {
    throw InputError("", "eval.weight_decay",
                     "must be -1 (the paper's) or at least 0, got " + value.dump());
  }
  return decay;
}

ParamSpec Int(std::string name, ParamSpec::Bind bind, int64_t def, std::optional<double> min,
              std::optional<double> max, std::string help) {
  return {std::move(name), ParamType::kInt, def, min, max, false, {}, std::move(help),
          false,           std::move(bind)};
}

ParamSpec Float(std::string name, ParamSpec::Bind bind, double def, std::optional<double> min,
                std::optional<double> max, bool min_exclusive, std::string help) {
  return {std::move(name), ParamType::kFloat, def, min, max, min_exclusive, {}, std::move(help),
          false,           std::move(bind)};
}

ParamSpec String(std::string name, ParamSpec::Bind bind, std::string def,
                 std::vector<std::string> choices, std::string help) {
  return {
      std::move(name), ParamType::kString, def, {}, {}, false, std::move(choices), std::move(help),
      false,           std::move(bind)};
}

// A string that may be empty, where "" means none or the usual rule.
ParamSpec OptionalString(std::string name, ParamSpec::Bind bind, std::string help) {
  ParamSpec spec = String(std::move(name), std::move(bind), "", {}, std::move(help));
  spec.allow_empty = true;
  return spec;
}

// A parameter added after keys were first written (ParamSpec::keyed_at_default).
ParamSpec Added(ParamSpec spec) {
  spec.keyed_at_default = false;
  return spec;
}

core::Precision ParsePrecision(const json& value) {
  // The table checks the value against its choices before it is bound.
  return value.get_ref<const std::string&>() == "bf16" ? core::Precision::kBf16
                                                       : core::Precision::kFp32;
}

downstream::Pooling ParsePoolingValue(const json& value) {
  return downstream::ParsePooling(value.get_ref<const std::string&>());
}

// Defaults are the paper's BERT-BASE baseline (Liu et al. 2019, section 2 and Table 9), so a grid
// that only names what it varies reproduces the paper's setting.
std::vector<ParamSpec> BuildTable() {
  constexpr double kHuge = 1e12;
  return {
      Int("seed", Member(&RunConfig::seed), 1, 0, 2147483647,
          "random seed of the run (initialization, data order, masks)"),
      String("data.corpus", Member(&RunConfig::data, &core::DataConfig::corpus), "books", {},
             "training corpus: a corpus name (books, mixture) or a directory of text"),
      String(
          "data.tokenizer", Member(&RunConfig::data, &core::DataConfig::tokenizer), "gpt2", {},
          "gpt2 = GPT-2's 50K byte-level BPE; bpe-N = a byte-level BPE of N units trained on the "
          "corpus (bpe-N@CORPUS: on another corpus); or a directory with encoder.json + vocab.bpe"),
      String("data.format", Parsed(ParseFormat, &RunConfig::data, &core::DataConfig::format),
             "SEGMENT-PAIR+NSP", core::InputFormatNames(), "input format (paper section 4.2)"),
      String("data.masking", Parsed(ParseMasking, &RunConfig::data, &core::DataConfig::masking),
             "static", core::MaskingModeNames(),
             "static: masks drawn once per copy (data.static_copies); dynamic: fresh each time a "
             "sequence is fed"),
      Int("data.static_copies", Member(&RunConfig::data, &core::DataConfig::static_copies), 10, 1,
          1000,
          "number of differently-masked copies for static masking; epoch e uses copy e mod K"),
      Float("data.mask_prob", Member(&RunConfig::data, &core::DataConfig::mask_prob),
            core::kBertMaskProb, 0.0, 1.0, true, "fraction of tokens selected for prediction"),
      Int("data.seq_len", Member(&RunConfig::data, &core::DataConfig::seq_len),
          core::kBertBaseSeqLen, 8, 65536, "maximum sequence length in tokens"),
      Float("data.short_seq_prob", Member(&RunConfig::data, &core::DataConfig::short_seq_prob), 0.0,
            0.0, 1.0, false,
            "SEGMENT-PAIR+NSP: probability of a random shorter target length (0 = RoBERTa's "
            "full-length sequences, section 3.1; 0.1 = BERT's rule)"),
      Int("data.max_tokens", Member(&RunConfig::data, &core::DataConfig::max_tokens), 0, 0, kHuge,
          "use only the first N training tokens of the corpus (0 = all), for data-size axes"),
      Int("model.layers", Member(&RunConfig::model, &core::ModelConfig::layers),
          core::kBertBase.layers, 1, 256, "transformer layers"),
      Int("model.hidden", Member(&RunConfig::model, &core::ModelConfig::hidden),
          core::kBertBase.hidden, 8, 65536, "hidden size"),
      Int("model.heads", Member(&RunConfig::model, &core::ModelConfig::heads),
          core::kBertBase.heads, 1, 1024, "attention heads (must divide model.hidden)"),
      Int("model.ffn", Member(&RunConfig::model, &core::ModelConfig::ffn), core::kBertBase.ffn, 8,
          262144, "feed-forward inner size"),
      Float("model.dropout", Member(&RunConfig::model, &core::ModelConfig::dropout),
            core::kBertBase.dropout, 0.0, 0.99, false, "dropout on embeddings and layer outputs"),
      Float("model.attention_dropout",
            Member(&RunConfig::model, &core::ModelConfig::attention_dropout),
            core::kBertBase.attention_dropout, 0.0, 0.99, false,
            "dropout on attention probabilities"),
      Int("train.batch_size", Member(&RunConfig::train, &core::LoopConfig::batch_size), 256, 1,
          kHuge, "sequences per optimizer update"),
      Int("train.micro_batch", Member(&RunConfig::train, &core::LoopConfig::micro_batch), 0, 0,
          kHuge,
          "sequences per forward/backward; updates accumulate gradients (0 = chosen to fit)"),
      Int("train.steps", Member(&RunConfig::train, &core::LoopConfig::steps), 1000000, 1, kHuge,
          "optimizer updates"),
      Int("train.checkpoint_every", Member(&RunConfig::train, &core::LoopConfig::checkpoint_every),
          10000, 0, kHuge, "checkpoint every N updates (0 = only at the end)"),
      Float("train.grad_clip", Member(&RunConfig::train, &core::LoopConfig::grad_clip), 0.0, 0.0,
            kHuge, false, "clip the gradient norm to this (0 = off)"),
      Added(String("train.precision",
                   Parsed(ParsePrecision, &RunConfig::train, &core::LoopConfig::precision), "fp32",
                   {"fp32", "bf16"},
                   "what the forward passes compute in: fp32, or bf16 autocast (matmuls and "
                   "attention in bf16; weights, optimizer and evaluation in fp32)")),
      Float("optim.lr", Member(&RunConfig::optim, &core::OptimConfig::lr), 1e-4, 0.0, 10.0, true,
            "peak learning rate"),
      Float("optim.beta1", Member(&RunConfig::optim, &core::OptimConfig::beta1),
            core::kBertAdamW.beta1, 0.0, 0.999999, false, "Adam beta1"),
      Float("optim.beta2", Member(&RunConfig::optim, &core::OptimConfig::beta2),
            core::kBertAdamW.beta2, 0.0, 0.999999999, false, "Adam beta2"),
      Float("optim.eps", Member(&RunConfig::optim, &core::OptimConfig::eps), core::kBertAdamW.eps,
            0.0, 1.0, true, "Adam epsilon"),
      Float("optim.weight_decay", Member(&RunConfig::optim, &core::OptimConfig::weight_decay),
            core::kBertAdamW.weight_decay, 0.0, 10.0, false,
            "decoupled weight decay (not on biases and LayerNorm)"),
      Int("optim.warmup_steps", Member(&RunConfig::optim, &core::OptimConfig::warmup_steps), 10000,
          0, kHuge,
          "linear warmup to optim.lr over N updates, then linear decay reaching 0 just after "
          "update train.steps (fairseq polynomial_decay)"),
      Int("eval.every",
          Member(&RunConfig::eval, &EvalConfig::validation, &core::ValidationConfig::every), 10000,
          0, kHuge, "validate every N updates (0 = only at the end)"),
      Int("eval.sequences",
          Member(&RunConfig::eval, &EvalConfig::validation, &core::ValidationConfig::sequences),
          512, 0, kHuge,
          "held-out sequences scored at each validation, exactly, the same for every run (0 = "
          "all)"),
      OptionalString(
          "eval.corpus",
          Member(&RunConfig::eval, &EvalConfig::validation, &core::ValidationConfig::corpus),
          "corpora whose held-out documents every run is scored on, comma-separated (\"\" = "
          "the training corpus): the first gives valid/*, each further one valid-CORPUS/*; "
          "set it when runs train on different corpora, so their perplexities are measured "
          "on the same text"),
      OptionalString(
          "eval.tasks", Parsed(ParseTasks, &RunConfig::eval, &EvalConfig::tasks),
          "downstream tasks fine-tuned after pretraining, comma-separated (\"\" = none): the "
          "built-ins " +
              downstream::BuiltinTasksHelp() +
              " (scripts/fetch-data), or NAME=FORMAT:PATH with FORMAT " +
              downstream::TaskFormatsHelp() +
              "; scores are final metrics eval/NAME/METRIC in percent"),
      OptionalString("eval.lrs",
                     Parsed(ParseRates, &RunConfig::eval, &EvalConfig::finetune,
                            &downstream::FinetuneConfig::lrs),
                     "fine-tuning learning rates searched, comma-separated; the best median "
                     "counts (\"\" = the paper's: 1e-5,2e-5,3e-5; SQuAD 1.5e-5; RACE 1e-5)"),
      Int("eval.batch_size",
          Member(&RunConfig::eval, &EvalConfig::finetune, &downstream::FinetuneConfig::batch_size),
          0, 0, kHuge, "fine-tuning examples per update (0 = the paper's: 32; SQuAD 48; RACE 16)"),
      Int("eval.epochs",
          Member(&RunConfig::eval, &EvalConfig::finetune, &downstream::FinetuneConfig::epochs), 0,
          0, 1000,
          "fine-tuning epochs; the best epoch's dev score counts (0 = the paper's: 10; SQuAD 2; "
          "RACE 4)"),
      Float("eval.weight_decay",
            Parsed(ParseFinetuneDecay, &RunConfig::eval, &EvalConfig::finetune,
                   &downstream::FinetuneConfig::weight_decay),
            -1, -1, 10, false, "fine-tuning weight decay (-1 = the paper's: 0.1; SQuAD 0.01)"),
      Int("eval.seeds",
          Member(&RunConfig::eval, &EvalConfig::finetune, &downstream::FinetuneConfig::seeds),
          downstream::kPaperSeeds, 1, 1000,
          "fine-tuning runs per learning rate, each from the same checkpoint; the median counts "
          "(the paper's " +
              std::to_string(downstream::kPaperSeeds) + ")"),
      Int("eval.max_train_examples",
          Member(&RunConfig::eval, &EvalConfig::finetune,
                 &downstream::FinetuneConfig::max_train_examples),
          0, 0, kHuge,
          "fine-tune on a fixed random sample of this many training examples (0 = all)"),
      Int("eval.max_dev_examples",
          Member(&RunConfig::eval, &EvalConfig::finetune,
                 &downstream::FinetuneConfig::max_dev_examples),
          0, 0, kHuge, "score a fixed random sample of this many dev examples (0 = all)"),
      Added(String("eval.pooling",
                   Parsed(ParsePoolingValue, &RunConfig::eval, &EvalConfig::finetune,
                          &downstream::FinetuneConfig::pooling),
                   "first", downstream::PoolingNames(),
                   "what the classification head reads: first = the first token's final state "
                   "(RoBERTa's head); mean = the mean of the tokens' final states")),
      Int("eval.seq_len",
          Member(&RunConfig::eval, &EvalConfig::finetune, &downstream::FinetuneConfig::seq_len), 0,
          0, 65536,
          "fine-tuning sequence length in tokens (0 = data.seq_len, which is also the most)"),
  };
}

}  // namespace

std::string_view TypeName(ParamType type) {
  switch (type) {
    case ParamType::kInt:
      return "int";
    case ParamType::kFloat:
      return "float";
    case ParamType::kString:
      return "string";
    case ParamType::kBool:
      return "bool";
  }
  return "?";
}

std::string ParamSpec::RangeText() const {
  if (!choices.empty()) {
    std::string out;
    for (const auto& c : choices) out += (out.empty() ? "" : " | ") + c;
    return out;
  }
  if (!min && !max) return type == ParamType::kString && !allow_empty ? "non-empty" : "any";
  auto text = [&](double x) {
    return type == ParamType::kInt ? std::to_string(static_cast<int64_t>(x)) : ShortestText(x);
  };
  std::string lo = min ? (min_exclusive ? "(" : "[") + text(*min) : "(-inf";
  std::string hi = max && *max < 1e12 ? text(*max) + "]" : "inf)";
  return lo + ", " + hi;
}

const std::vector<ParamSpec>& ParamTable() {
  static const std::vector<ParamSpec> table = BuildTable();
  return table;
}

const ParamSpec* FindParam(std::string_view name) {
  for (const auto& spec : ParamTable()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::vector<std::string> SuggestParams(std::string_view name) {
  // A missing or wrong group is the commonest slip ("lr" for "optim.lr"): match on the last part.
  auto leaf = [](std::string_view s) {
    auto dot = s.rfind('.');
    return dot == std::string_view::npos ? s : s.substr(dot + 1);
  };
  std::vector<std::string> same_leaf, names;
  for (const auto& spec : ParamTable()) {
    names.push_back(spec.name);
    if (spec.name != name && leaf(spec.name) == leaf(name)) same_leaf.push_back(spec.name);
  }
  return same_leaf.empty() ? ClosestNames(name, names) : same_leaf;
}

json CheckValue(const ParamSpec& spec, const json& value, const std::string& source,
                const std::string& path) {
  auto fail = [&](const std::string& expected) -> json {
    throw InputError(source, path,
                     spec.name + " = " + value.dump() + " is invalid: expected " + expected);
  };
  auto check_range = [&](double x) {
    bool low = spec.min && (spec.min_exclusive ? x <= *spec.min : x < *spec.min);
    bool high = spec.max && x > *spec.max;
    if (low || high || !std::isfinite(x))
      fail(std::string(TypeName(spec.type)) + " in " + spec.RangeText());
  };
  switch (spec.type) {
    case ParamType::kInt: {
      if (!value.is_number()) return fail("an integer");
      double x = value.get<double>();
      if (value.is_number_float() && (std::floor(x) != x || std::abs(x) > 9.007e15)) {
        return fail("an integer");
      }
      check_range(x);
      return value.is_number_unsigned()
                 ? json(static_cast<int64_t>(value.get<uint64_t>()))
                 : json(value.is_number_float() ? static_cast<int64_t>(x) : value.get<int64_t>());
    }
    case ParamType::kFloat: {
      if (!value.is_number()) return fail("a number");
      double x = value.get<double>();
      check_range(x);
      return json(x);
    }
    case ParamType::kString: {
      if (!value.is_string()) {
        return fail(spec.choices.empty() ? "a string" : "one of " + spec.RangeText());
      }
      const auto& s = value.get_ref<const std::string&>();
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), s) == spec.choices.end()) {
        return fail("one of " + spec.RangeText());
      }
      if (s.empty() && !spec.allow_empty) return fail("a non-empty string");
      return value;
    }
    case ParamType::kBool:
      if (!value.is_boolean()) return fail("true or false");
      return value;
  }
  return value;
}

std::string CanonicalText(const json& value) {
  if (value.is_number_float()) {
    std::string text = ShortestText(value.get<double>());
    // Keep floats distinguishable from ints in the canonical form: 1.0 stays "1.0".
    if (text.find_first_of(".e") == std::string::npos) text += ".0";
    return text;
  }
  return value.dump();
}

}  // namespace ablate::experiments
