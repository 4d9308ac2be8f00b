#include "downstream/task_data.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

#include "base/error.h"
#include "base/json_at.h"
#include "base/json_text.h"
#include "base/list_text.h"
#include "base/suggest.h"
#include "downstream/task_metrics.h"

namespace ablate::downstream {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSpecsPath = "eval.tasks";
// The built-in tasks scripts/fetch_tasks.py writes under <data_dir>/tasks, all in SST-2's layout,
// and the format each is read as: the Reuters topics (7% and 3% positive) are scored by the F1 of
// the topic, as Reuters-21578 results are, since always saying "no" is already 90% accurate.
struct BuiltinTask {
  std::string_view name, format;
};
constexpr std::array<BuiltinTask, 4> kBuiltins = {{{"uci-sentiment", "sst2"},
                                                   {"reuters-grain", "topic"},
                                                   {"reuters-corn", "topic"},
                                                   {"bshift", "sst2"}}};
constexpr auto kBuiltinTasks = [] {
  std::array<std::string_view, kBuiltins.size()> names;
  for (size_t i = 0; i < kBuiltins.size(); ++i) names[i] = kBuiltins[i].name;
  return names;
}();

const BuiltinTask* FindBuiltin(std::string_view name) {
  for (const auto& builtin : kBuiltins)
    if (builtin.name == name) return &builtin;
  return nullptr;
}

std::string Join(const auto& names) {
  std::string out;
  for (std::string_view n : names) (out += out.empty() ? "" : ", ") += n;
  return out;
}

// One format NAME=FORMAT:PATH may name: a row of Formats() below.
struct TaskFormat {
  std::string_view name;
  std::string_view note;  // for help: what sets it apart where its name does not say it
  TaskKind kind;          // knowable without reading the task (the plan needs it)
  std::string reads;      // what it reads in the task's directory, for messages
  // Fills the task's labels (classification), metrics, train and dev splits from `dir`.
  std::function<void(const TaskFormat& format, const fs::path& dir, Task& task)> read;

  // A file that is missing names this: "the sst2 format reads train.tsv and dev.tsv".
  std::string Expected() const { return "the " + std::string(name) + " format reads " + reads; }
};

// ---------------------------------------------------------------------------------------------
// GLUE TSV

// Where a format's text and label columns are, by header name. CoLA's files have no header: its
// columns are given names here. Label names are listed in class-id order. A row names only what
// it sets: the members it may leave out have initializers.
struct GlueLayout {
  std::vector<std::string_view> implicit_header = {};  // non-empty: the file has no header line
  std::string_view text_a;
  std::string_view text_b = {};  // empty: single sentences
  std::string_view label;
  std::vector<std::string> labels;
  std::vector<std::string> metrics;
  std::string_view dev_file = "dev.tsv";
};

constexpr std::string_view kGlueTrainFile = "train.tsv";

// GLUE files are unquoted: a tab always separates fields, and a '"' is an ordinary character.
std::vector<std::string_view> SplitTabs(std::string_view line) {
  std::vector<std::string_view> fields;
  for (size_t begin = 0;;) {
    const auto tab = line.find('\t', begin);
    fields.push_back(line.substr(begin, tab - begin));
    if (tab == std::string_view::npos) return fields;
    begin = tab + 1;
  }
}

// Reads a GLUE file a line at a time (MNLI's train.tsv is hundreds of megabytes). Empty lines are
// allowed only at the end.
std::vector<ClassificationExample> ReadGlueFile(const fs::path& file, const GlueLayout& layout,
                                                const TaskFormat& format) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string(), "", "cannot read file (" + format.Expected() + ")");
  const std::string name = file.filename().string();
  std::vector<std::string_view> header = layout.implicit_header;
  std::string header_line;
  size_t a = 0, b = 0, label = 0;
  auto column = [&](std::string_view wanted) -> size_t {
    const auto it = std::find(header.begin(), header.end(), wanted);
    if (it != header.end()) return static_cast<size_t>(it - header.begin());
    throw InputError(file.string() + ":1", "",
                     "the header has no column \"" + std::string(wanted) + "\" (a " +
                         std::string(format.name) + " file has a tab-separated header with " +
                         std::string(layout.text_a) +
                         (layout.text_b.empty() ? "" : ", " + std::string(layout.text_b)) +
                         " and " + std::string(layout.label) + ")");
  };
  auto find_columns = [&] {
    a = column(layout.text_a);
    b = layout.text_b.empty() ? 0 : column(layout.text_b);
    label = column(layout.label);
  };
  if (!header.empty()) find_columns();

  std::vector<ClassificationExample> out;
  bool needs_header = header.empty();
  size_t first_empty = 0;  // the first of the empty lines just read, 0 if none
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Some GLUE files (MRPC's) start with a UTF-8 byte-order mark.
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (line.empty()) {
      if (first_empty == 0) first_empty = number;
      continue;
    }
    if (first_empty != 0) {
      throw InputError(file.string() + ":" + std::to_string(first_empty), "",
                       "empty line (only the last lines of a file may be empty)");
    }
    if (needs_header) {
      header_line = std::move(line);
      header = SplitTabs(header_line);
      find_columns();
      needs_header = false;
      continue;
    }
    const std::string where = file.string() + ":" + std::to_string(number);
    const auto fields = SplitTabs(line);
    if (fields.size() != header.size()) {
      throw InputError(where, "",
                       "expected " + std::to_string(header.size()) + " tab-separated fields (" +
                           Join(header) + "), got " + std::to_string(fields.size()));
    }
    const auto found = std::find(layout.labels.begin(), layout.labels.end(), fields[label]);
    if (found == layout.labels.end()) {
      throw InputError(where, "",
                       "unknown label \"" + std::string(fields[label]) + "\" in column " +
                           std::string(layout.label) + ": expected one of " + Join(layout.labels));
    }
    ClassificationExample e;
    e.id = name + ":" + std::to_string(number);
    e.text_a = fields[a];
    if (!layout.text_b.empty()) e.text_b = fields[b];
    e.label = static_cast<int>(found - layout.labels.begin());
    out.push_back(std::move(e));
  }
  if (out.empty()) throw InputError(file.string(), "", "has no examples");
  return out;
}

// A GLUE format's row: its train.tsv and dev file read by `layout`.
TaskFormat Glue(std::string_view name, GlueLayout layout, std::string_view note = "") {
  std::string reads = std::string(kGlueTrainFile) + " and " + std::string(layout.dev_file);
  return {name, note, TaskKind::kClassification, std::move(reads),
          [layout = std::move(layout)](const TaskFormat& format, const fs::path& dir, Task& task) {
            task.labels = layout.labels;
            task.metrics = layout.metrics;
            task.train.classification = ReadGlueFile(dir / kGlueTrainFile, layout, format);
            task.dev.classification = ReadGlueFile(dir / layout.dev_file, layout, format);
          }};
}

// ---------------------------------------------------------------------------------------------
// JSON (SQuAD, RACE)

// The file's JSON; a file that cannot be read names what the format expects.
nlohmann::ordered_json ReadTaskJson(const fs::path& file, std::string_view expected) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string(), "", "cannot read file (" + std::string(expected) + ")");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseJsonText(text.str(), file.string());
}

// SQuAD's answer_start counts code points (Python str indices); returns the UTF-8 byte offset, or
// npos past the end. The JSON parser has already checked that the text is UTF-8.
size_t CodePointToByte(std::string_view text, int64_t code_points) {
  if (code_points < 0) return std::string_view::npos;
  int64_t seen = 0;
  for (size_t byte = 0; byte < text.size(); ++byte) {
    if ((static_cast<unsigned char>(text[byte]) & 0xC0) == 0x80) continue;
    if (seen++ == code_points) return byte;
  }
  return seen == code_points ? text.size() : std::string_view::npos;
}

std::vector<SpanExample> ReadSquadFile(const fs::path& file, bool is_train, bool allows_no_answer,
                                       const TaskFormat& format) {
  const auto root = ReadTaskJson(file, format.Expected());
  const std::string source = file.string();
  const JsonAt data = JsonAt(root, source, "")["data"];
  std::vector<SpanExample> out;
  for (size_t d = 0; d < data.ArraySize(); ++d) {
    const JsonAt paragraphs = data[d]["paragraphs"];
    for (size_t p = 0; p < paragraphs.ArraySize(); ++p) {
      const std::string& context = paragraphs[p]["context"].String();
      const JsonAt qas = paragraphs[p]["qas"];
      for (size_t q = 0; q < qas.ArraySize(); ++q) {
        const JsonAt qa = qas[q];
        SpanExample e;
        e.id = qa["id"].String();
        e.question = qa["question"].String();
        e.context = context;
        e.impossible = qa.BoolOr("is_impossible", false);
        if (e.impossible && !allows_no_answer) {
          qa["is_impossible"].Fail("squad1 has no impossible questions (use the squad2 format)");
        }
        const JsonAt answers = qa["answers"];
        const size_t count = answers.ArraySize();
        if (e.impossible && count != 0) answers.Fail("an impossible question has no answers");
        if (!e.impossible && count == 0) answers.Fail("expected at least one answer");
        for (size_t a = 0; a < (is_train ? std::min<size_t>(count, 1) : count); ++a) {
          const JsonAt answer = answers[a];
          SpanAnswer span;
          span.text = answer["text"].String();
          const int64_t chars = answer["answer_start"].Int();
          const size_t start = CodePointToByte(context, chars);
          if (start == std::string_view::npos ||
              std::string_view(context).substr(start, span.text.size()) != span.text) {
            answer.Fail("the answer \"" + span.text + "\" is not at answer_start " +
                        std::to_string(chars) + " (a character offset into the context)");
          }
          span.start = static_cast<int64_t>(start);
          e.answers.push_back(std::move(span));
        }
        out.push_back(std::move(e));
      }
    }
  }
  if (out.empty()) throw InputError(source, "/data", "has no questions");
  return out;
}

// The first of `names` that exists in `dir` (for SQuAD's two naming schemes), else the first.
fs::path FirstExisting(const fs::path& dir, std::initializer_list<std::string_view> names) {
  for (auto name : names) {
    std::error_code error;
    if (fs::exists(dir / name, error)) return dir / name;
  }
  return dir / *names.begin();
}

// A SQuAD format's row: train-VERSION.json and dev-VERSION.json, or train.json and dev.json.
TaskFormat Squad(std::string_view name, std::string_view version, bool allows_no_answer) {
  const std::string train = "train-" + std::string(version) + ".json";
  const std::string dev = "dev-" + std::string(version) + ".json";
  return {name, "", TaskKind::kSpan, train + " and " + dev + ", or train.json and dev.json",
          [=](const TaskFormat& format, const fs::path& dir, Task& task) {
            task.allows_no_answer = allows_no_answer;
            task.metrics = {kMetricF1, kMetricEm};
            task.train.spans = ReadSquadFile(FirstExisting(dir, {train, "train.json"}), true,
                                             allows_no_answer, format);
            task.dev.spans = ReadSquadFile(FirstExisting(dir, {dev, "dev.json"}), false,
                                           allows_no_answer, format);
          }};
}

// Every regular file under `dir` (hidden files and folders skipped), in sorted path order.
std::vector<fs::path> FilesUnder(const fs::path& dir, const TaskFormat& format) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    throw InputError(
        dir.string(), "",
        "no such directory (a " + std::string(format.name) + " dataset has " + format.reads + ")");
  }
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->path().filename().string().starts_with(".")) {
      it.disable_recursion_pending();
    } else if (it->is_regular_file()) {
      files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<ChoiceExample> ReadRaceDir(const fs::path& dir, const TaskFormat& format) {
  std::vector<ChoiceExample> out;
  for (const auto& file : FilesUnder(dir, format)) {
    const auto root = ReadTaskJson(file, "a RACE JSON file");
    const std::string source = file.string();
    const JsonAt top(root, source, "");
    const std::string& id = top["id"].String();
    const std::string& article = top["article"].String();
    const JsonAt questions = top["questions"], options = top["options"], answers = top["answers"];
    const size_t count = questions.ArraySize();
    if (options.ArraySize() != count || answers.ArraySize() != count) {
      top.Fail("expected as many options and answers as questions (" + std::to_string(count) +
               "), got " + std::to_string(options.ArraySize()) + " and " +
               std::to_string(answers.ArraySize()));
    }
    for (size_t q = 0; q < count; ++q) {
      ChoiceExample e;
      e.id = id + "-" + std::to_string(q);
      e.context = article;
      e.question = questions[q].String();
      for (size_t o = 0; o < options[q].ArraySize(); ++o)
        e.options.push_back(options[q][o].String());
      if (e.options.size() < 2) options[q].Fail("expected at least two options");
      if (!out.empty() && e.options.size() != out.front().options.size()) {
        options[q].Fail("expected " + std::to_string(out.front().options.size()) +
                        " options, as the split's first question has, got " +
                        std::to_string(e.options.size()));
      }
      const std::string& letter = answers[q].String();
      const int label = letter.size() == 1 ? letter[0] - 'A' : -1;
      if (label < 0 || label >= static_cast<int>(e.options.size())) {
        answers[q].Fail("expected an option letter A to " +
                        std::string(1, static_cast<char>('A' + e.options.size() - 1)) + ", got \"" +
                        letter + "\"");
      }
      e.label = label;
      out.push_back(std::move(e));
    }
  }
  if (out.empty()) throw InputError(dir.string(), "", "has no questions");
  return out;
}

void ReadRace(const TaskFormat& format, const fs::path& dir, Task& task) {
  task.metrics = {kMetricAcc};
  task.train.choices = ReadRaceDir(dir / "train", format);
  task.dev.choices = ReadRaceDir(dir / "dev", format);
  if (task.train.choices.front().options.size() != task.dev.choices.front().options.size()) {
    throw InputError(dir.string(), "", "train and dev questions have different numbers of options");
  }
}

// ---------------------------------------------------------------------------------------------
// The formats

// Every format NAME=FORMAT:PATH may name, in the order messages and help list them. A new format
// is a row here: a GLUE layout, or a reader of its own.
const std::vector<TaskFormat>& Formats() {
  static const std::vector<TaskFormat> formats = {
      Glue("sst2",
           {.text_a = "sentence", .label = "label", .labels = {"0", "1"}, .metrics = {kMetricAcc}}),
      Glue("topic",
           {.text_a = "sentence",
            .label = "label",
            .labels = {"0", "1"},
            .metrics = {kMetricF1, kMetricAcc}},
           "SST-2's layout scored by F1"),
      Glue("cola", {.implicit_header = {"source", "label", "star", "sentence"},
                    .text_a = "sentence",
                    .label = "label",
                    .labels = {"0", "1"},
                    .metrics = {kMetricMcc, kMetricAcc}}),
      Glue("mnli", {.text_a = "sentence1",
                    .text_b = "sentence2",
                    .label = "gold_label",
                    .labels = {"entailment", "neutral", "contradiction"},
                    .metrics = {kMetricAcc},
                    .dev_file = "dev_matched.tsv"}),
      Glue("mnli-mm", {.text_a = "sentence1",
                       .text_b = "sentence2",
                       .label = "gold_label",
                       .labels = {"entailment", "neutral", "contradiction"},
                       .metrics = {kMetricAcc},
                       .dev_file = "dev_mismatched.tsv"}),
      Glue("qnli", {.text_a = "question",
                    .text_b = "sentence",
                    .label = "label",
                    .labels = {"entailment", "not_entailment"},
                    .metrics = {kMetricAcc}}),
      Glue("qqp", {.text_a = "question1",
                   .text_b = "question2",
                   .label = "is_duplicate",
                   .labels = {"0", "1"},
                   .metrics = {kMetricAcc, kMetricF1}}),
      Glue("rte", {.text_a = "sentence1",
                   .text_b = "sentence2",
                   .label = "label",
                   .labels = {"entailment", "not_entailment"},
                   .metrics = {kMetricAcc}}),
      Glue("mrpc", {.text_a = "#1 String",
                    .text_b = "#2 String",
                    .label = "Quality",
                    .labels = {"0", "1"},
                    .metrics = {kMetricAcc, kMetricF1}}),
      Glue("wnli", {.text_a = "sentence1",
                    .text_b = "sentence2",
                    .label = "label",
                    .labels = {"0", "1"},
                    .metrics = {kMetricAcc}}),
      Squad("squad1", "v1.1", false),
      Squad("squad2", "v2.0", true),
      {"race", "", TaskKind::kMultipleChoice, "train/ and dev/", ReadRace},
  };
  return formats;
}

const TaskFormat* FindFormat(std::string_view name) {
  for (const auto& format : Formats()) {
    if (format.name == name) return &format;
  }
  return nullptr;
}

std::vector<std::string> FormatNames() {
  std::vector<std::string> names;
  for (const auto& format : Formats()) names.emplace_back(format.name);
  return names;
}

// ---------------------------------------------------------------------------------------------
// eval.tasks

// " (did you mean "x"?)" for the closest candidates, else "".
std::string Suggest(std::string_view word, const auto& candidates) {
  return DidYouMean(
      ClosestNames(word, std::vector<std::string>(candidates.begin(), candidates.end())));
}

bool IsTaskName(std::string_view name) {
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (name.empty() || !lower_or_digit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return lower_or_digit(c) || c == '.' || c == '_' || c == '-'; });
}

TaskSpec ParseTaskSpec(std::string_view entry) {
  const std::string quoted = "\"" + std::string(entry) + "\"";
  const auto equals = entry.find('=');
  if (equals == std::string_view::npos) {
    if (const BuiltinTask* builtin = FindBuiltin(entry)) {
      return {std::string(entry), std::string(builtin->format),
              fs::path("tasks") / std::string(entry), true};
    }
    if (FindFormat(entry) != nullptr) {
      throw InputError("", std::string(kSpecsPath),
                       quoted + " is a format, not a task: a dataset in that format is named " +
                           "NAME=" + std::string(entry) + ":PATH");
    }
    if (entry.find(':') != std::string_view::npos) {
      throw InputError("", std::string(kSpecsPath),
                       quoted + ": expected NAME=FORMAT:PATH (the task's name is missing)");
    }
    throw InputError("", std::string(kSpecsPath),
                     "unknown task " + quoted + Suggest(entry, kBuiltinTasks) +
                         ": expected a built-in task (" + Join(kBuiltinTasks) +
                         ") or NAME=FORMAT:PATH");
  }
  const auto name = TrimSpace(entry.substr(0, equals));
  const auto rest = entry.substr(equals + 1);
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) {
    throw InputError("", std::string(kSpecsPath),
                     quoted + ": expected NAME=FORMAT:PATH, e.g. sst=sst2:/data/glue/SST-2");
  }
  const auto format = TrimSpace(rest.substr(0, colon));
  const auto path = TrimSpace(rest.substr(colon + 1));
  if (!IsTaskName(name)) {
    throw InputError("", std::string(kSpecsPath),
                     "task name \"" + std::string(name) + "\" in " + quoted +
                         ": expected [a-z0-9][a-z0-9._-]* (it is part of metric names)");
  }
  if (FindFormat(format) == nullptr) {
    throw InputError("", std::string(kSpecsPath),
                     "unknown format \"" + std::string(format) + "\" in " + quoted +
                         Suggest(format, FormatNames()) + ": expected one of " +
                         Join(FormatNames()));
  }
  if (path.empty()) {
    throw InputError("", std::string(kSpecsPath),
                     quoted + ": the path to the dataset's directory is empty");
  }
  return {std::string(name), std::string(format), fs::path(std::string(path))};
}

}  // namespace

TaskSpec InDataDir(TaskSpec spec, const fs::path& data_dir) {
  if (spec.builtin) spec.path = data_dir / spec.path;
  return spec;
}

std::vector<TaskSpec> ParseTaskSpecs(const std::string& text, const fs::path& data_dir) {
  auto specs = ParseTaskSpecs(text);
  for (auto& spec : specs) spec = InDataDir(std::move(spec), data_dir);
  return specs;
}

std::vector<TaskSpec> ParseTaskSpecs(const std::string& text) {
  std::vector<TaskSpec> specs;
  for (const std::string_view entry : CommaList(text)) {
    if (entry.empty()) {
      throw InputError("", std::string(kSpecsPath),
                       "empty entry in \"" + text + "\": expected comma-separated tasks");
    }
    auto spec = ParseTaskSpec(entry);
    for (const auto& other : specs) {
      if (other.name == spec.name) {
        throw InputError("", std::string(kSpecsPath),
                         "task \"" + spec.name + "\" is named twice (names must be unique)");
      }
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::string BuiltinTasksHelp() { return Join(kBuiltinTasks); }

std::string TaskFormatsHelp() {
  std::vector<std::string> items;
  for (const auto& format : Formats()) {
    items.push_back(std::string(format.name) +
                    (format.note.empty() ? "" : " (" + std::string(format.note) + ")"));
  }
  return OrList(items);
}

TaskKind KindOfFormat(const std::string& format) {
  const TaskFormat* found = FindFormat(format);
  return found != nullptr ? found->kind : TaskKind::kClassification;
}

Task LoadTask(const TaskSpec& spec) {
  std::error_code error;
  if (!fs::is_directory(spec.path, error)) {
    const BuiltinTask* found = FindBuiltin(spec.name);
    const bool builtin = found != nullptr && spec.format == found->format;
    throw InputError(
        spec.path.string(), "",
        "no such task directory" +
            std::string(builtin ? " (scripts/fetch-data writes the built-in tasks)" : ""));
  }
  const TaskFormat* format = FindFormat(spec.format);
  if (format == nullptr) {
    throw InputError(
        "", std::string(kSpecsPath),
        "unknown format \"" + spec.format + "\": expected one of " + Join(FormatNames()));
  }
  Task task;
  task.name = spec.name;
  task.format = spec.format;
  task.kind = format->kind;
  format->read(*format, spec.path, task);
  task.primary_metric = task.metrics.front();
  return task;
}

}  // namespace ablate::downstream
