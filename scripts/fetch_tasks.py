#!/usr/bin/python3
"""Fetch or build the built-in downstream tasks that `eval.tasks` names into DATA_DIR/tasks/NAME/.

Each task is written as GLUE's SST-2 layout: train.tsv and dev.tsv, a "sentence<TAB>label"
header, then one example a line, label 0 or 1. Text is cleaned as the corpora are
(fetch_corpora.Clean): any run of whitespace (tabs and line breaks included) becomes one space,
control characters go. NAME/source.json records the package, the split rule and the counts.

  uci-sentiment  UCI "Sentiment Labelled Sentences" (Kotzias et al., 2015): 1,000 sentences
                 each from IMDb, Yelp and Amazon reviews, half of each positive (1), half
                 negative (0), as shipped in npm sentiment@5.0.2's test fixtures. The data has
                 no split: dev is the sentences whose text's SHA-256 has a first byte divisible
                 by 5 (about 20%, balanced by label; a repeated sentence always lands in the
                 same split), train the rest; both in file order, imdb, yelp, amazon.
  reuters-grain  Reuters-21578 ModApte, one fold in five as Weka's examples ship it: is the
  reuters-corn   article about grain (corn)? 1 = yes. From Debian's weka package:
                 Reuters{Grain,Corn}-train.arff is train, -test.arff is dev. SGML entities in
                 the text (&lt;, &#3;) are decoded before cleaning.

  bshift         SentEval's bigram shift (Conneau et al., 2018): was a pair of adjacent words
                 swapped? 1 = yes. Built from the held-out documents of every corpus in
                 DATA_DIR/corpora (the 3% that no run trains on: SHA-256 of "heldout:" + the
                 document id, its first 48 bits below 0.03 of their range, as core/corpus.cpp
                 chooses them), so no pretraining run has seen its sentences. Sentences are the
                 paragraphs split after . ! or ? and a space (not after Mr. and
                 the like); kept when they start with a capital,
                 end with . ! or ?, have 5 to 14 words and are at least 90% letters and spaces,
                 each text once. A sentence's SHA-256 chooses its label (bit 0 of byte 1) and the
                 swapped pair (bytes 2-3, the next differing pair when the words are equal); dev
                 is the sentences whose first byte is divisible by 5, as for uci-sentiment. It
                 needs the corpora: fetch them first (scripts/fetch-data does).

Packages are fetched into a temporary folder with fetch_corpora's Fetcher (`npm pack`,
`apt-get download`), never installed. A task is built in a temporary folder next to its final
one and renamed into place, so an interrupted run leaves no half-written task; it is "cached"
while its source.json (at this script's revision) and both files are there. --force rebuilds.
Prints one line per task: "fetch-data: fetched|cached task NAME: N train, M dev (PATH)".
Standard library only. Exit status 0, 1 if a task failed, 2 for bad arguments.
"""

import argparse
import gzip
import hashlib
import html
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch_corpora import (Clean, EnsureAptLists, Fetcher, FetchError, Package,  # noqa: E402
                           Want, WriteAtomically, kDefaultDataDir)

kRevision = 1  # bump when the conversion changes, so that cached tasks are rebuilt

Example = tuple[str, int]  # (text, label)


# ---------------------------------------------------------------------------------------------
# uci-sentiment


kUciSources = ("imdb", "yelp", "amazon")


def IsDev(text: str) -> bool:
    """The dev split of a task that ships none: the text's SHA-256, first byte divisible by 5."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % 5 == 0


def ExtractUciSentiment(pkg: Package) -> tuple[list[Example], list[Example]]:
    train, dev = [], []
    for source in kUciSources:
        path = pkg.root / "test" / "fixtures" / f"{source}.json"
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise FetchError(f"{path}: cannot read ({e})") from e
        # Each file ends with a {"text": "", "class": null} row: no sentence, dropped.
        rows = [r for r in rows if not (r.get("class") is None and not r.get("text"))]
        if len(rows) != 1000:
            raise FetchError(f"{path}: expected 1000 labelled sentences, got {len(rows)}")
        for i, row in enumerate(rows):
            text, label = Clean(str(row.get("text", ""))), row.get("class")
            if not text or label not in (0, 1):
                raise FetchError(f"{path}: row {i}: expected a text and class 0 or 1, got {row}")
            (dev if IsDev(text) else train).append((text, label))
    return train, dev


# ---------------------------------------------------------------------------------------------
# ARFF (Weka's format) and the Reuters tasks


kArffEscapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "%": "%"}
kArffAttribute = re.compile(r"""@attribute\s+('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)\s+(.+)$""",
                            re.I)


def ArffUnquote(token: str) -> str:
    if len(token) >= 2 and token[0] in "'\"" and token[-1] == token[0]:
        return re.sub(r"\\(.)", lambda m: kArffEscapes.get(m[1], m[1]), token[1:-1])
    return token


def ArffValues(line: str, where: str) -> list[str | None]:
    """One dense data row: comma-separated values, each bare or quoted ('...' or "...", with
    Weka's backslash escapes); "?" is a missing value (None)."""
    values: list[str | None] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i < n and line[i] in "'\"":
            quote, i, chars = line[i], i + 1, []
            while i < n and line[i] != quote:
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                    chars.append(kArffEscapes.get(line[i], line[i]))
                else:
                    chars.append(line[i])
                i += 1
            if i >= n:
                raise FetchError(f"{where}: unterminated {quote}-quoted value")
            values.append("".join(chars))
            i += 1
        else:
            end = line.find(",", i)
            end = n if end < 0 else end
            token = line[i:end].strip()
            values.append(None if token == "?" else token)
            i = end
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return values
        if line[i] != ",":
            raise FetchError(f"{where}: expected ',' after a value, got {line[i]!r}")
        i += 1


def ReadArff(path: Path) -> tuple[list[tuple[str, str]], list[list[str | None]]]:
    """An ARFF file's attributes [(name, type)] and dense data rows."""
    attributes: list[tuple[str, str]] = []
    rows: list[list[str | None]] = []
    in_data = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path}:{number}"
        stripped = line.strip()
        if not stripped or stripped.startswith("%"):
            continue
        if in_data:
            if stripped.startswith("{"):
                raise FetchError(f"{where}: sparse ARFF rows are not supported")
            values = ArffValues(stripped, where)
            if len(values) != len(attributes):
                raise FetchError(f"{where}: expected {len(attributes)} values, got {len(values)}")
            rows.append(values)
        elif stripped.lower().startswith("@attribute"):
            m = kArffAttribute.match(stripped)
            if not m:
                raise FetchError(f"{where}: malformed @attribute line")
            attributes.append((ArffUnquote(m[1]), m[2].strip()))
        elif stripped.lower().startswith("@data"):
            in_data = True
        elif not stripped.lower().startswith("@relation"):
            raise FetchError(f"{where}: unexpected line in the ARFF header")
    if not in_data:
        raise FetchError(f"{path}: no @data section")
    return attributes, rows


def ReutersExamples(path: Path) -> list[Example]:
    attributes, rows = ReadArff(path)
    types = [t.lower().replace(" ", "") for _, t in attributes]
    if types != ["string", "{0,1}"]:
        raise FetchError(f"{path}: expected the attributes (Text string, class {{0,1}}), got "
                         f"{attributes}")
    examples = []
    for i, (text, label) in enumerate(rows):
        text = Clean(html.unescape(text or ""))
        if not text or label not in ("0", "1"):
            raise FetchError(f"{path}: data row {i + 1}: expected a text and class 0 or 1")
        examples.append((text, int(label)))
    return examples


def ReutersExtractor(topic: str) -> Callable[[Package], tuple[list[Example], list[Example]]]:
    def Extract(pkg: Package) -> tuple[list[Example], list[Example]]:
        examples = pkg.root / "usr/share/doc/weka/examples"
        splits = []
        for part in ("train", "test"):
            candidates = [examples / f"Reuters{topic}-{part}.arff{z}" for z in ("", ".gz")]
            path = next((p for p in candidates if p.exists()), None)
            if path is None:
                raise FetchError(f"{pkg.label()}: no {candidates[0].name}(.gz) in {examples}")
            if path.suffix == ".gz":
                unpacked = path.with_suffix("")
                unpacked.write_bytes(gzip.decompress(path.read_bytes()))
                path = unpacked
            splits.append(ReutersExamples(path))
        return splits[0], splits[1]

    return Extract


# ---------------------------------------------------------------------------------------------
# bshift: SentEval's bigram-shift probing task, from the corpora's held-out documents


kHeldOutFraction = 0.03  # core/corpus.h
kSentenceEnd = re.compile(r"(?<=[.!?])\s+")
kAbbreviations = {"Mr.", "Mrs.", "Ms.", "Dr.", "St.", "Mt.", "Jr.", "Sr.", "Messrs.", "Capt.",
                  "Col.", "Gen.", "Rev.", "Prof.", "vs.", "e.g.", "i.e.", "etc.", "No."}


def SplitSentences(paragraph: str) -> list[str]:
    """After . ! or ? and a space, unless the word ending there is a title or abbreviation."""
    sentences, start = [], 0
    for gap in kSentenceEnd.finditer(paragraph):
        last_word = paragraph[start:gap.start()].rsplit(" ", 1)[-1]
        if last_word in kAbbreviations:
            continue
        sentences.append(paragraph[start:gap.start()])
        start = gap.end()
    sentences.append(paragraph[start:])
    return [s for s in sentences if s]


def IsHeldOut(document_id: str) -> bool:
    """core/corpus.cpp's HeldOutIds for a corpus of more than a handful of documents."""
    digest = hashlib.sha256(f"heldout:{document_id}".encode("utf-8")).hexdigest()
    return int(digest[:12], 16) / float(1 << 48) < kHeldOutFraction


def IsBShiftSentence(text: str) -> bool:
    words = text.split()
    letters = sum(1 for c in text if c.isalpha() or c == " ")
    return (5 <= len(words) <= 14 and text[0].isupper() and text[-1] in ".!?" and
            letters >= 0.9 * len(text))


def BShiftExample(sentence: str) -> Example:
    """The sentence as it is (0) or with one adjacent pair of differing words swapped (1)."""
    digest = hashlib.sha256(sentence.encode("utf-8")).digest()
    words = sentence.split()
    if digest[1] % 2 == 0:
        return sentence, 0
    pairs = len(words) - 1
    first = int.from_bytes(digest[2:4], "big") % pairs
    for k in range(pairs):
        j = (first + k) % pairs
        if words[j] != words[j + 1]:
            words[j], words[j + 1] = words[j + 1], words[j]
            return " ".join(words), 1
    return sentence, 0  # every word the same: nothing to swap


def ExtractBShift(corpora: Path) -> tuple[list[Example], list[Example]]:
    try:
        manifest = json.loads((corpora / "manifest.json").read_text(encoding="utf-8"))
        sources = sorted(manifest["sources"].items())
    except (OSError, ValueError, KeyError, AttributeError) as e:
        raise FetchError(f"{corpora}/manifest.json: cannot read the corpora ({e}); fetch them "
                         "first (scripts/fetch-data)") from e
    seen: set[str] = set()
    train, dev = [], []
    for _, source in sources:
        path = corpora / source["file"]
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise FetchError(f"{path}: cannot read ({e})") from e
        for number, line in enumerate(lines, 1):
            try:
                document = json.loads(line)
                held_out = IsHeldOut(document["id"])
            except (ValueError, KeyError, TypeError) as e:
                raise FetchError(f"{path}:{number}: not a corpus document ({e})") from e
            if not held_out:
                continue
            for paragraph in document.get("paragraphs", []):
                for sentence in SplitSentences(Clean(paragraph)):
                    if sentence in seen or not IsBShiftSentence(sentence):
                        continue
                    seen.add(sentence)
                    (dev if IsDev(sentence) else train).append(BShiftExample(sentence))
    return train, dev


def CorporaDigest(corpora: Path) -> str:
    """What bshift is built from: the corpora manifest's SHA-256 (it lists each file's)."""
    try:
        return hashlib.sha256((corpora / "manifest.json").read_bytes()).hexdigest()
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# Tasks, output and cache


@dataclass(frozen=True)
class Task:
    name: str
    package: Want | None  # None: built from DATA_DIR/corpora (bshift)
    extract: Callable[[Package], tuple[list[Example], list[Example]]] | None
    min_examples: tuple[int, int]  # (train, dev): fewer means the package changed shape
    about: str


kWekaExamples = ("./usr/share/doc/weka/examples/Reuters*",)
kTasks = [
    Task("uci-sentiment", Want("npm", "sentiment", "5.0.2"), ExtractUciSentiment, (2000, 400),
         "UCI Sentiment Labelled Sentences (IMDb, Yelp, Amazon); 1 = positive. Dev: SHA-256 of "
         "the text, first byte divisible by 5"),
    Task("reuters-grain", Want("debian", "weka", include=kWekaExamples), ReutersExtractor("Grain"),
         (1000, 400), "Reuters-21578 ModApte (Weka's examples); 1 = about grain. Dev: -test.arff"),
    Task("reuters-corn", Want("debian", "weka", include=kWekaExamples), ReutersExtractor("Corn"),
         (1000, 400), "Reuters-21578 ModApte (Weka's examples); 1 = about corn. Dev: -test.arff"),
    Task("bshift", None, None, (3000, 600),
         "SentEval's bigram shift (Conneau et al., 2018) on the sentences of the corpora's held-out "
         "documents; 1 = two adjacent words swapped. Dev: SHA-256 of the text, first byte "
         "divisible by 5"),
]


def WriteTsv(path: Path, examples: list[Example]) -> None:
    def Write(f):
        f.write("sentence\tlabel\n")
        for text, label in examples:
            f.write(f"{text}\t{label}\n")  # Clean() has made every tab and line break a space

    WriteAtomically(path, Write)


def CachedEntry(task: Task, out: Path, corpora: Path) -> dict | None:
    try:
        entry = json.loads((out / "source.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (entry.get("revision") == kRevision and (out / "train.tsv").is_file() and
          (out / "dev.tsv").is_file())
    if task.package is None:  # rebuilt when the corpora change
        ok = ok and entry.get("corpora", {}).get("manifest_sha256") == CorporaDigest(corpora)
    return entry if ok else None


def BuildTask(task: Task, fetcher: Fetcher, packages: dict, out: Path, corpora: Path) -> dict:
    """Writes one task into a temporary folder beside `out`, then swaps it into place."""
    entry: dict = {"revision": kRevision, "format": "sst2", "about": task.about}
    if task.package is None:
        train, dev = ExtractBShift(corpora)
        origin = f"the held-out documents of {corpora}"
        entry["corpora"] = {"manifest_sha256": CorporaDigest(corpora)}
    else:
        key = task.package.label()
        if key not in packages:
            packages[key] = fetcher.Fetch(task.package)
        package = packages[key]
        train, dev = task.extract(package)
        origin = package.label()
        entry["package"] = {"manager": package.manager, "name": package.name,
                            "version": package.version}
    if len(train) < task.min_examples[0] or len(dev) < task.min_examples[1]:
        raise FetchError(f"only {len(train)} train and {len(dev)} dev examples from "
                         f"{origin} (expected at least {task.min_examples[0]} and "
                         f"{task.min_examples[1]}): its layout may have changed")
    entry.update({"train": len(train), "dev": len(dev),
             "train_labels": [sum(1 for _, l in train if l == c) for c in (0, 1)],
             "dev_labels": [sum(1 for _, l in dev if l == c) for c in (0, 1)]})
    for stray in out.parent.glob(f".{out.name}.*"):  # left by a killed run
        shutil.rmtree(stray, ignore_errors=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    old = out.with_name(f".{out.name}.old{os.getpid()}")
    try:
        tmp.mkdir(parents=True)
        WriteTsv(tmp / "train.tsv", train)
        WriteTsv(tmp / "dev.tsv", dev)
        WriteAtomically(tmp / "source.json", lambda f: f.write(json.dumps(entry, indent=2) + "\n"))
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
    finally:
        if old.exists() and not out.exists():  # the second rename failed: keep the old task
            os.replace(old, out)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return entry


def Report(status: str, name: str, entry: dict, out: Path) -> None:
    print(f"fetch-data: {status} task {name}: {entry['train']} train, {entry['dev']} dev ({out})",
          flush=True)


def Main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=kDefaultDataDir,
                        help="data folder; output goes to DATA_DIR/tasks (default: %(default)s)")
    parser.add_argument("--tasks", default="all",
                        help="comma-separated task names, or all (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild tasks even if cached")
    args = parser.parse_args(argv)

    by_name = {t.name: t for t in kTasks}
    names = list(by_name) if args.tasks == "all" else [
        n.strip() for n in args.tasks.split(",") if n.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(by_name)}")

    out_dir, corpora = args.data_dir / "tasks", args.data_dir / "corpora"
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = []
    for name in names:
        entry = None if args.force else CachedEntry(by_name[name], out_dir / name, corpora)
        if entry:
            Report("cached", name, entry, out_dir / name)
        else:
            todo.append(by_name[name])
    failures = []
    if todo:
        debs = sorted({t.package.name for t in todo if t.package and t.package.manager == "debian"})
        if debs:
            EnsureAptLists(debs)
        packages: dict = {}  # fetched once for the tasks that share one (weka)
        with tempfile.TemporaryDirectory(prefix="fetch_tasks.") as work:
            fetcher = Fetcher(Path(work))
            for task in todo:
                try:
                    entry = BuildTask(task, fetcher, packages, out_dir / task.name, corpora)
                except (FetchError, OSError) as e:
                    origin = task.package.label() if task.package else "corpora"
                    failures.append(f"{task.name} ({origin}): {e}")
                    print(f"fetch-data: FAILED task {task.name}: {e}", file=sys.stderr, flush=True)
                    continue
                Report("fetched", task.name, entry, out_dir / task.name)
    if failures:
        print(f"fetch_tasks: {len(failures)} task(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(Main(sys.argv[1:]))
