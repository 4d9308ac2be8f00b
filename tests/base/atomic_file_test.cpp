#include "base/atomic_file.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tests/support.h"

namespace fs = std::filesystem;
using ablate::AtomicFile;
using ablate::WriteFileAtomically;
using ablate::test::TempDir;

using ablate::test::Slurp;

namespace {

// The names in `dir`, links included (directory_iterator does not follow them).
std::set<std::string> Names(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

}  // namespace

TEST_CASE("an atomic write replaces the file whole", "[atomic_file]") {
  TempDir dir;
  WriteFileAtomically(dir / "a.json", "old");
  WriteFileAtomically(dir / "a.json", "new text");
  CHECK(Slurp(dir / "a.json") == "new text");
  CHECK(Names(dir.path()) == std::set<std::string>{"a.json"});
}

TEST_CASE("an atomic write never follows a link planted at a temporary's name", "[atomic_file]") {
  TempDir dir;
  dir.Write("victim", "precious");
  // The names the earlier schemes used: <path>.tmp<pid> (every atomic write) and <path>.tmp
  // (checkpoints). Opened with O_CREAT | O_TRUNC, either wrote through the link into its target.
  const std::string pid = std::to_string(::getpid());
  for (const std::string& name : {"out.md.tmp" + pid, std::string("out.md.tmp")})
    fs::create_symlink(dir / "victim", dir / name);
  WriteFileAtomically(dir / "out.md", "report");
  CHECK(Slurp(dir / "victim") == "precious");
  CHECK(Slurp(dir / "out.md") == "report");
  CHECK(fs::is_symlink(dir / ("out.md.tmp" + pid)));
  CHECK(Names(dir.path()) ==
        std::set<std::string>{"victim", "out.md", "out.md.tmp", "out.md.tmp" + pid});

  // A link at the target itself is replaced by the file, and what it pointed to stays as it was.
  fs::create_symlink(dir / "victim", dir / "linked.md");
  WriteFileAtomically(dir / "linked.md", "report");
  CHECK_FALSE(fs::is_symlink(dir / "linked.md"));
  CHECK(Slurp(dir / "linked.md") == "report");
  CHECK(Slurp(dir / "victim") == "precious");
}

TEST_CASE("the temporary's name is new each time and never predictable from the process",
          "[atomic_file]") {
  TempDir dir;
  std::set<fs::path> seen;
  for (int i = 0; i < 20; ++i) {
    AtomicFile file(dir / "x");
    const fs::path temporary = file.temporary();
    CHECK(temporary.parent_path() == dir.path());
    CHECK(temporary.filename().string().rfind("x.", 0) == 0);
    CHECK(temporary.extension() == ".tmp");
    CHECK(temporary.filename().string().find(std::to_string(::getpid())) == std::string::npos);
    CHECK(seen.insert(temporary).second);
  }
  CHECK(fs::is_empty(dir.path()));  // none committed: each removed its temporary
}

TEST_CASE("an atomic write onto a directory fails and leaves nothing behind", "[atomic_file]") {
  TempDir dir;
  fs::create_directory(dir / "out");
  try {
    WriteFileAtomically(dir / "out", "text");
    FAIL("no error");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("out: it is a directory"));
  }
  CHECK(Names(dir.path()) == std::set<std::string>{"out"});
  CHECK(fs::is_empty(dir / "out"));
}

TEST_CASE("a rename that fails removes the temporary and keeps the error", "[atomic_file]") {
  TempDir dir;
  AtomicFile file(dir / "out");
  file.Write("text");
  fs::create_directories(dir / "out" / "in");  // rename(2) cannot replace a non-empty directory
  CHECK_THROWS_WITH(file.Commit(), Catch::Contains("cannot write") && Catch::Contains("out"));
  CHECK(Names(dir.path()) == std::set<std::string>{"out"});
}

TEST_CASE("a write abandoned before Commit leaves the old file and no temporary", "[atomic_file]") {
  TempDir dir;
  WriteFileAtomically(dir / "a", "old");
  {
    AtomicFile file(dir / "a");
    file.Write("half of the new");
    CHECK(fs::exists(file.temporary()));
  }
  CHECK(Slurp(dir / "a") == "old");
  CHECK(Names(dir.path()) == std::set<std::string>{"a"});
}

TEST_CASE("a write that fails (a full disk) leaves the old file and no temporary",
          "[atomic_file]") {
  TempDir dir;
  WriteFileAtomically(dir / "a", "old");
  // In a child, so that the file size limit (the "full disk") stays there.
  const pid_t child = ::fork();
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // write(2) then fails with EFBIG instead of killing
    const rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      WriteFileAtomically(dir / "a", std::string(100000, 'x'));
    } catch (const std::runtime_error& e) {
      ::_exit(std::string(e.what()).find("File too large") != std::string::npos ? 0 : 2);
    }
    ::_exit(1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(Slurp(dir / "a") == "old");
  CHECK(Names(dir.path()) == std::set<std::string>{"a"});
}

TEST_CASE("an atomically written file has the mode open(2) would give it", "[atomic_file]") {
  TempDir dir;
  for (const auto& [mask, mode] : {std::pair<mode_t, mode_t>{022, 0644}, {077, 0600}}) {
    const mode_t old = ::umask(mask);
    WriteFileAtomically(dir / "a", "text");
    ::umask(old);
    struct stat st {};
    REQUIRE(::stat((dir / "a").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == mode);
  }
}

TEST_CASE("a scratch directory is fresh, private and removed with its contents", "[atomic_file]") {
  TempDir dir;
  fs::path path;
  {
    const ablate::ScratchDirectory a(dir.path(), ".tokenizer.");
    const ablate::ScratchDirectory b(dir.path(), ".tokenizer.");
    path = a.path();
    CHECK(a.path() != b.path());
    CHECK(a.path().parent_path() == dir.path());
    CHECK((fs::status(a.path()).permissions() & fs::perms::all) == fs::perms::owner_all);
    std::ofstream(a.path() / "f") << "x";
  }
  CHECK_FALSE(fs::exists(path));
  CHECK(fs::is_empty(dir.path()));
}
