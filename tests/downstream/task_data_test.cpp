#include "downstream/task_data.h"

#include <array>
#include <catch2/catch.hpp>

#include "base/error.h"

namespace fs = std::filesystem;
using namespace ablate::downstream;
using Catch::Matchers::Contains;

namespace {

const fs::path kTasks = fs::path(ABLATE_SOURCE_DIR) / "tests/data/tasks";

Task Load(const std::string& format, const std::string& dir) {
  return LoadTask({dir, format, kTasks / dir});
}

// The InputError that `f` throws, as its one printed line.
template <typename F>
std::string ErrorOf(F f) {
  try {
    f();
  } catch (const ablate::InputError& e) {
    return e.what();
  }
  FAIL("expected an InputError");
  return "";
}

std::vector<std::string> Labels(const TaskSplit& split) {
  std::vector<std::string> out;
  for (const auto& e : split.classification) out.push_back(std::to_string(e.label));
  return out;
}

}  // namespace

TEST_CASE("eval.tasks names built-in tasks and user datasets", "[task_data]") {
  auto specs =
      ParseTaskSpecs(" uci-sentiment , mine=mnli-mm:/data/glue/MNLI,q=squad2: rel/dir ", "/d");
  REQUIRE(specs.size() == 3);
  CHECK(specs[0].name == "uci-sentiment");
  CHECK(specs[0].format == "sst2");
  CHECK(specs[0].path == fs::path("/d/tasks/uci-sentiment"));
  CHECK(specs[1].name == "mine");
  CHECK(specs[1].format == "mnli-mm");
  CHECK(specs[1].path == fs::path("/data/glue/MNLI"));
  CHECK(specs[2].name == "q");
  CHECK(specs[2].format == "squad2");
  CHECK(specs[2].path == fs::path("rel/dir"));
  CHECK(ParseTaskSpecs("reuters-grain,reuters-corn", "/d")[1].path ==
        fs::path("/d/tasks/reuters-corn"));
  // The Reuters topics are scored by F1 of the topic (format "topic": SST-2's layout).
  CHECK(ParseTaskSpecs("reuters-grain", "/d")[0].format == "topic");
  CHECK(ParseTaskSpecs("bshift", "/d")[0].format == "sst2");
  CHECK(ParseTaskSpecs("bshift", "/d")[0].path == fs::path("/d/tasks/bshift"));
  CHECK(ParseTaskSpecs("", "/d").empty());
  CHECK(ParseTaskSpecs("  ", "/d").empty());
  // A path may itself hold ':' and '='.
  CHECK(ParseTaskSpecs("x=race:/a:b=c", "/d")[0].path == fs::path("/a:b=c"));
}

TEST_CASE("bad eval.tasks entries are input errors that say what was expected", "[task_data]") {
  auto error = [](const std::string& text) { return ErrorOf([&] { ParseTaskSpecs(text, "/d"); }); };
  CHECK(error("uci-sentimen") ==
        "eval.tasks: unknown task \"uci-sentimen\" (did you mean \"uci-sentiment\"?): expected a "
        "built-in task (uci-sentiment, reuters-grain, reuters-corn, bshift) or NAME=FORMAT:PATH");
  CHECK(error("m=sst-2:/x") ==
        "eval.tasks: unknown format \"sst-2\" in \"m=sst-2:/x\" (did you mean \"sst2\"?): "
        "expected one of sst2, topic, cola, mnli, mnli-mm, qnli, qqp, rte, mrpc, wnli, squad1, "
        "squad2, race");
  CHECK_THAT(error("sst2"), Contains("is a format, not a task") && Contains("NAME=sst2:PATH"));
  CHECK_THAT(error("My Task=sst2:/x"),
             Contains("task name \"My Task\"") && Contains("expected [a-z0-9][a-z0-9._-]*"));
  CHECK_THAT(error("-x=sst2:/x"), Contains("task name \"-x\""));
  CHECK_THAT(error("m=sst2"), Contains("expected NAME=FORMAT:PATH"));
  CHECK(error("sst2:/x") ==
        "eval.tasks: \"sst2:/x\": expected NAME=FORMAT:PATH (the task's name "
        "is missing)");
  CHECK_THAT(error("m=sst2:"), Contains("path to the dataset's directory is empty"));
  CHECK_THAT(error("uci-sentiment,,reuters-corn"), Contains("empty entry"));
  CHECK(error("a=sst2:/x, a=cola:/y") ==
        "eval.tasks: task \"a\" is named twice (names must be unique)");
  CHECK_THAT(error("uci-sentiment,uci-sentiment"), Contains("named twice"));
}

TEST_CASE("SST-2 files: a header, unquoted text, trailing empty lines skipped", "[task_data]") {
  auto task = Load("sst2", "sst2");
  CHECK(task.name == "sst2");
  CHECK(task.kind == TaskKind::kClassification);
  CHECK(task.labels == std::vector<std::string>{"0", "1"});
  CHECK(task.metrics == std::vector<std::string>{"acc"});
  CHECK(task.primary_metric == "acc");
  REQUIRE(task.train.size() == 3);
  REQUIRE(task.dev.size() == 3);
  CHECK(task.train.classification[0].id == "train.tsv:2");
  CHECK(task.train.classification[0].text_a == "hide new secretions from the parental units ");
  CHECK(task.train.classification[0].text_b.empty());
  CHECK(Labels(task.train) == std::vector<std::string>{"0", "0", "1"});
  CHECK(task.dev.classification[2].id == "dev.tsv:4");
  CHECK(task.dev.classification[2].text_a == "a \"gripping thriller , with a twist ");
  CHECK(Labels(task.dev) == std::vector<std::string>{"1", "0", "1"});
}

TEST_CASE("CoLA files have no header and four columns", "[task_data]") {
  auto task = Load("cola", "cola");
  CHECK(task.metrics == std::vector<std::string>{"mcc", "acc"});
  CHECK(task.primary_metric == "mcc");
  REQUIRE(task.train.size() == 3);
  CHECK(task.train.classification[0].id == "train.tsv:1");
  CHECK(task.train.classification[0].text_a ==
        "Our friends won't buy this analysis, let alone the next one we propose.");
  CHECK(task.train.classification[2].text_a == "They drank the pub.");
  CHECK(Labels(task.train) == std::vector<std::string>{"1", "1", "0"});
  REQUIRE(task.dev.size() == 2);
  CHECK(Labels(task.dev) == std::vector<std::string>{"1", "0"});
}

TEST_CASE("MNLI columns are found by header name, matched and mismatched dev sets", "[task_data]") {
  auto task = Load("mnli", "mnli");
  CHECK(task.labels == std::vector<std::string>{"entailment", "neutral", "contradiction"});
  REQUIRE(task.train.size() == 3);
  const auto& third = task.train.classification[2];
  CHECK(third.text_a == "He said \"no\" twice.");
  CHECK(third.text_b == "He never spoke.");
  CHECK(Labels(task.train) == std::vector<std::string>{"1", "0", "2"});
  // The dev files have five annotator labels before gold_label.
  REQUIRE(task.dev.size() == 2);
  CHECK(task.dev.classification[0].text_a == "The new rights are nice enough");
  CHECK(task.dev.classification[0].text_b == "Everyone really likes the newest benefits ");
  CHECK(Labels(task.dev) == std::vector<std::string>{"1", "2"});

  auto mismatched = Load("mnli-mm", "mnli");
  REQUIRE(mismatched.train.size() == 3);
  REQUIRE(mismatched.dev.size() == 3);
  CHECK(mismatched.dev.classification[2].text_b == "We serve a meal.");
  CHECK(Labels(mismatched.dev) == std::vector<std::string>{"2", "2", "0"});
}

TEST_CASE("QNLI, QQP, RTE and MRPC layouts", "[task_data]") {
  auto qnli = Load("qnli", "qnli");
  CHECK(qnli.labels == std::vector<std::string>{"entailment", "not_entailment"});
  REQUIRE(qnli.train.size() == 3);
  CHECK(qnli.train.classification[2].text_a ==
        "What two things does Popper argue Tarski's theory involves in an evaluation of truth?");
  CHECK(Labels(qnli.train) == std::vector<std::string>{"1", "1", "0"});
  CHECK(Labels(qnli.dev) == std::vector<std::string>{"0", "1"});

  auto qqp = Load("qqp", "qqp");
  CHECK(qqp.metrics == std::vector<std::string>{"acc", "f1"});
  REQUIRE(qqp.train.size() == 2);
  CHECK(qqp.train.classification[1].text_a == "How do I control my horny emotions?");
  CHECK(qqp.train.classification[1].text_b == "How do you control your horniness?");
  CHECK(Labels(qqp.train) == std::vector<std::string>{"0", "1"});

  auto rte = Load("rte", "rte");
  REQUIRE(rte.train.size() == 2);
  CHECK(rte.train.classification[0].text_b == "Weapons of Mass Destruction Found in Iraq.");
  CHECK(Labels(rte.train) == std::vector<std::string>{"1", "0"});
  CHECK(Labels(rte.dev) == std::vector<std::string>{"1"});

  // MRPC's files start with a byte-order mark; its label is the first column.
  auto mrpc = Load("mrpc", "mrpc");
  CHECK(mrpc.metrics == std::vector<std::string>{"acc", "f1"});
  CHECK(mrpc.primary_metric == "acc");
  REQUIRE(mrpc.train.size() == 2);
  CHECK(mrpc.train.classification[0].text_a ==
        "Amrozi accused his brother , whom he called \" the witness \" , of deliberately "
        "distorting his evidence .");
  CHECK(mrpc.train.classification[0].text_b ==
        "Referring to him as only \" the witness \" , Amrozi accused his brother of deliberately "
        "distorting his evidence .");
  CHECK(Labels(mrpc.train) == std::vector<std::string>{"1", "0"});
  REQUIRE(mrpc.dev.size() == 2);
  CHECK(mrpc.dev.classification[0].text_b ==
        "\" The foodservice pie business does not fit our long-term growth strategy .");
}

TEST_CASE("SQuAD v1.1: answer offsets, the first answer in train and all of them in dev",
          "[task_data]") {
  auto task = Load("squad1", "squad1");
  CHECK(task.kind == TaskKind::kSpan);
  CHECK_FALSE(task.allows_no_answer);
  CHECK(task.metrics == std::vector<std::string>{"f1", "em"});
  CHECK(task.primary_metric == "f1");
  REQUIRE(task.train.size() == 2);
  const auto& second = task.train.spans[1];
  CHECK(second.id == "5733be284776f4190066117f");
  CHECK(second.question == "What is in front of the Notre Dame Main Building?");
  CHECK(second.context.rfind("Architecturally, the school", 0) == 0);
  REQUIRE(second.answers.size() == 1);
  CHECK(second.answers[0].text == "gold dome");
  CHECK(second.answers[0].start == 79);
  CHECK_FALSE(second.impossible);

  REQUIRE(task.dev.size() == 2);
  const auto& broncos = task.dev.spans[0];
  REQUIRE(broncos.answers.size() == 3);
  CHECK(broncos.answers[2].text == "Denver");
  CHECK(broncos.answers[2].start == 177);
  // After an en dash (3 bytes, 1 character) written as \u2013 in the JSON.
  const auto& score = task.dev.spans[1].answers[0];
  CHECK(score.text == "24\u201310");
  CHECK(score.start == 267);
}

TEST_CASE("SQuAD v2.0: impossible questions and character offsets after non-ASCII text",
          "[task_data]") {
  auto task = Load("squad2", "squad2");
  CHECK(task.allows_no_answer);
  REQUIRE(task.train.size() == 3);
  const auto& born = task.train.spans[0];
  // answer_start 64 characters: "Beyoncé" and "/biːˈjɒnseɪ/" hold five 2-byte characters.
  REQUIRE(born.answers.size() == 1);
  CHECK(born.answers[0].start == 69);
  CHECK(born.context.substr(69, 17) == "September 4, 1981");
  CHECK(task.train.spans[1].impossible);
  CHECK(task.train.spans[1].answers.empty());
  // 127 characters, after a 4-byte character (U+1D11E) too.
  CHECK(task.train.spans[2].answers[0].start == 135);
  CHECK(task.train.spans[2].answers[0].text == "Houston, Texas");

  REQUIRE(task.dev.size() == 2);
  CHECK(task.dev.spans[0].impossible);
  // Two CJK characters (3 bytes each) open the context.
  REQUIRE(task.dev.spans[1].answers.size() == 2);
  CHECK(task.dev.spans[1].answers[0].start == 46);
  CHECK(task.dev.spans[1].answers[1].start == 39);
  CHECK(task.dev.spans[1].answers[1].text == "in the 10th and 11th centuries");
}

TEST_CASE("RACE: one example per question, files in sorted path order", "[task_data]") {
  auto task = Load("race", "race");
  CHECK(task.kind == TaskKind::kMultipleChoice);
  CHECK(task.metrics == std::vector<std::string>{"acc"});
  REQUIRE(task.train.size() == 3);
  const auto& first = task.train.choices[0];
  CHECK(first.id == "high1.txt-0");
  CHECK(first.question == "What did the writer talk about with the students?");
  CHECK(first.context.rfind("Last week I talked", 0) == 0);
  CHECK(first.options == std::vector<std::string>{"Their homework.",
                                                  "Their plans after graduation.", "Their parents.",
                                                  "Their hobbies."});
  CHECK(first.label == 1);
  CHECK(task.train.choices[1].id == "high1.txt-1");
  CHECK(task.train.choices[1].label == 2);
  CHECK(task.train.choices[2].id == "middle3.txt-0");
  CHECK(task.train.choices[2].label == 0);
  REQUIRE(task.dev.size() == 1);
  CHECK(task.dev.choices[0].id == "middle2.txt-0");
  CHECK(task.dev.choices[0].label == 3);
}

TEST_CASE("malformed task data is an input error naming the file and line or JSON path",
          "[task_data]") {
  const std::string bad = (kTasks / "bad").string();
  CHECK(ErrorOf([&] { Load("sst2", "bad/sst2-fields"); }) ==
        bad + "/sst2-fields/dev.tsv:4: expected 2 tab-separated fields (sentence, label), got 3");
  CHECK(ErrorOf([&] { Load("sst2", "bad/sst2-label"); }) ==
        bad + "/sst2-label/train.tsv:3: unknown label \"2\" in column label: expected one of 0, 1");
  CHECK(
      ErrorOf([&] { Load("sst2", "bad/sst2-empty-line"); }) ==
      bad +
          "/sst2-empty-line/train.tsv:3: empty line (only the last lines of a file may be empty)");
  CHECK_THAT(ErrorOf([&] { Load("mnli", "bad/mnli-header"); }),
             Contains(bad + "/mnli-header/train.tsv:1: the header has no column \"gold_label\""));
  CHECK(ErrorOf([&] { Load("squad1", "bad/squad-offset"); }) ==
        bad +
            "/squad-offset/train.json: /data/0/paragraphs/0/qas/1/answers/0: the answer \"gold "
            "dome\" is not at answer_start 80 (a character offset into the context)");
  CHECK_THAT(ErrorOf([&] { Load("squad1", "bad/json"); }),
             Contains(bad + "/json/train-v1.1.json:1:101: malformed JSON: syntax error"));
  CHECK(ErrorOf([&] { Load("race", "bad/race-answer"); }) ==
        bad + "/race-answer/train/a.txt: /answers/1: expected an option letter A to D, got \"E\"");
  // A GLUE format on a SQuAD directory: the missing file and what the format reads.
  CHECK(ErrorOf([&] { Load("mnli-mm", "squad1"); }) ==
        (kTasks / "squad1/train.tsv").string() +
            ": cannot read file (the mnli-mm format reads train.tsv and dev_mismatched.tsv)");
  CHECK_THAT(ErrorOf([&] { Load("squad2", "sst2"); }),
             Contains("train-v2.0.json: cannot read file (the squad2 format reads "
                      "train-v2.0.json and dev-v2.0.json, or train.json and dev.json)"));
  // squad1 has no impossible questions.
  CHECK_THAT(ErrorOf([&] { Load("squad1", "bad/squad1-impossible"); }),
             Contains("/data/0/paragraphs/0/qas/1/is_impossible: squad1 has no impossible"));
  CHECK_THAT(ErrorOf([&] { Load("sst2", "no-such-task"); }), Contains("no such task directory"));
  CHECK_THAT(ErrorOf([&] {
               LoadTask({"uci-sentiment", "sst2", kTasks / "missing"});
             }),
             Contains("scripts/fetch-data"));
}

TEST_CASE("the built-in tasks load once scripts/fetch-data has fetched them", "[task_data]") {
  const fs::path data_dir = fs::path(ABLATE_SOURCE_DIR) / "data";
  if (!fs::exists(data_dir / "tasks/uci-sentiment")) {
    WARN("skipped: " << (data_dir / "tasks").string() << " not fetched (run scripts/fetch-data)");
    return;
  }
  std::string names = "uci-sentiment,reuters-grain,reuters-corn";
  if (fs::exists(data_dir / "tasks/bshift")) names += ",bshift";  // fetched since it was added
  for (const auto& spec : ParseTaskSpecs(names, data_dir)) {
    INFO(spec.name);
    auto task = LoadTask(spec);
    CHECK(task.labels == std::vector<std::string>{"0", "1"});
    std::array<int, 2> counts = {0, 0};
    for (const auto* split : {&task.train, &task.dev}) {
      CHECK(split->size() > 0);
      for (const auto& e : split->classification) ++counts[e.label];
    }
    CHECK(counts[0] > 0);
    CHECK(counts[1] > 0);
    if (spec.name == "uci-sentiment") {
      CHECK(task.train.size() + task.dev.size() == 3000);
      CHECK(task.primary_metric == "acc");
    } else if (spec.name == "bshift") {
      CHECK(task.train.size() >= 3000);  // fetch_tasks.py's floor for the shipped corpora
      CHECK(task.dev.size() >= 600);
      CHECK(task.primary_metric == "acc");
    } else {
      CHECK(task.metrics == std::vector<std::string>{"f1", "acc"});
      CHECK(task.train.size() == 1554);  // ReutersGrain-train.arff / ReutersCorn-train.arff
      CHECK(task.dev.size() == 604);
    }
  }
}
