// Downstream (fine-tuning) datasets: what `eval.tasks` names, read into plain examples from their
// real formats (GLUE TSV, SQuAD v1.1/v2.0 JSON, RACE JSON) and split into train and dev. It does
// not tokenize, train or score; finetune.h does that, and task_metrics.h scores predictions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ablate::downstream {

enum class TaskKind { kClassification, kSpan, kMultipleChoice };

// GLUE-style sentence or sentence-pair classification. text_b is empty for single sentences.
// Label orders are fixed per format: mnli/mnli-mm entailment, neutral, contradiction; qnli/rte
// entailment, not_entailment; sst2 cola qqp mrpc wnli (and the built-in tasks) 0, 1.
struct ClassificationExample {
  std::string id;  // FILE:LINE of its row, e.g. "dev.tsv:7"
  std::string text_a, text_b;
  int label = 0;  // index into Task::labels
};

// SQuAD: answer texts with their byte offsets into `context` (the JSON's answer_start, converted
// from characters to UTF-8 bytes). v2.0 examples may be impossible (no answer).
struct SpanAnswer {
  std::string text;
  int64_t start = 0;  // byte offset into the context
};
struct SpanExample {
  std::string id;
  std::string question, context;
  std::vector<SpanAnswer> answers;  // dev: every annotator's answer; train: the first
  bool impossible = false;
};

// RACE: an article, a question and its options; label is the right option's index. Every question
// of a split has the same number of options (RACE: four).
struct ChoiceExample {
  std::string id;  // the file's id and the question's index: "high1.txt-0"
  std::string context, question;
  std::vector<std::string> options;
  int label = 0;
};

struct TaskSplit {
  std::vector<ClassificationExample> classification;
  std::vector<SpanExample> spans;
  std::vector<ChoiceExample> choices;
  size_t size() const { return classification.size() + spans.size() + choices.size(); }
};

// One `eval.tasks` entry: a built-in task name, or NAME=FORMAT:PATH (see ParseTaskSpecs).
struct TaskSpec {
  std::string name;            // metric names are eval/<name>/<metric>
  std::string format;          // one of the formats TaskFormatsHelp lists
  std::filesystem::path path;  // a built-in's is tasks/<name>, in the data directory (InDataDir)
  bool builtin = false;

  bool operator==(const TaskSpec&) const = default;
};

struct Task {
  std::string name, format;
  TaskKind kind = TaskKind::kClassification;
  std::vector<std::string> labels;   // classification: label names, index = class id
  bool allows_no_answer = false;     // SQuAD v2.0
  std::vector<std::string> metrics;  // what scoring reports: {"acc"}, {"f1", "em"}, ...
  std::string primary_metric;        // the one the lr grid and early stopping select on
  TaskSplit train, dev;
};

// Parses the comma-separated `eval.tasks` value. Built-in names (uci-sentiment, reuters-grain,
// reuters-corn, bshift) resolve to <data_dir>/tasks/<name> (SST-2 layout; the Reuters ones as
// format "topic", scored by F1) as fetched by scripts/fetch-data; NAME=FORMAT:PATH names a user's
// dataset directory (a relative PATH is taken as given, i.e. relative to the working directory).
// NAME matches [a-z0-9][a-z0-9._-]*. Empty text gives no tasks. Throws InputError (path
// "eval.tasks") for an unknown name or format, a duplicate name, or a malformed entry.
std::vector<TaskSpec> ParseTaskSpecs(const std::string& text,
                                     const std::filesystem::path& data_dir);
// The same without a data directory, as a run's config holds them: a built-in's path is
// tasks/<name>, which InDataDir places in the data directory.
std::vector<TaskSpec> ParseTaskSpecs(const std::string& text);
TaskSpec InDataDir(TaskSpec spec, const std::filesystem::path& data_dir);

// The formats NAME=FORMAT:PATH may name, as help lists them: "sst2, topic (SST-2's layout scored
// by F1), cola, ..., squad2 or race". task_data.cpp's table of formats is the list.
std::string TaskFormatsHelp();

// "uci-sentiment, reuters-grain, reuters-corn, bshift": the built-in task names, for help texts.
std::string BuiltinTasksHelp();

// The kind of task a format is (the paper's fine-tuning defaults differ by kind): squad1 and
// squad2 are spans, race multiple choice, every other format classification. Knowable without
// reading the task.
TaskKind KindOfFormat(const std::string& format);

// Reads a task's train and dev splits from the files its format names: GLUE train.tsv + dev.tsv
// (mnli: dev_matched.tsv, mnli-mm: dev_mismatched.tsv); squad1 train-v1.1.json + dev-v1.1.json,
// squad2 train-v2.0.json + dev-v2.0.json (either: train.json + dev.json); race: every file under
// train/ and dev/, in sorted path order. Throws InputError naming the file (and line or JSON path)
// for a missing directory or file, or for malformed content.
Task LoadTask(const TaskSpec& spec);

}  // namespace ablate::downstream
