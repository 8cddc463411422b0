"""Which files discovery keeps: .gitignore patterns matched as git matches them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from packlint.config import Settings
from packlint.discover import GitIgnore, discover

PATHS = ["m.py", "build", "dist", "docs/c.py", "docs/sub/c.py", "a/b", "a/q/b", "a/q/r/b", "q/gen_x.py", "gen_y.py",
         "x1.py", "bz.py", "sub/data", "top", "sub/top", "sub/dist", "notes.txt", "m.txt", "logs/x/y.py", "src/a/tmp",
         "src/a/b/tmp"]  # fmt: skip
# What `git check-ignore --no-index` said for each of PATHS, as a file and as a directory (`name/`), with a
# .gitignore holding the one pattern: `*` and `?` stop at `/`, `**/` spans directories, `/` anchors.
IGNORED_BY_GIT = {
    "*.py": ["m.py", "docs/c.py", "docs/sub/c.py", "q/gen_x.py", "gen_y.py", "x1.py", "bz.py", "logs/x/y.py"],
    "build/": ["build/"],
    "/dist": ["dist"],
    "docs/*.py": ["docs/c.py"],
    "a/**/b": ["a/b", "a/q/b", "a/q/r/b"],
    "**/gen_*.py": ["q/gen_x.py", "gen_y.py"],
    "x?.py": ["x1.py"],
    "[ab]*.py": ["bz.py"],
    "data": ["sub/data"],
    "/top/": ["top/"],
    "logs/**": ["logs/x/y.py"],
    "[!m]*.txt": ["notes.txt"],
    "src/*/tmp": ["src/a/tmp"],
}


@pytest.mark.parametrize("pattern", sorted(IGNORED_BY_GIT))
@pytest.mark.parametrize("directory", ["root", ".", "root/"])
def test_a_gitignore_pattern_ignores_what_git_ignores(pattern: str, directory: str) -> None:
    ignore = GitIgnore(directory, (pattern,))
    found = []
    for relative in PATHS:
        path = relative if directory == "." else os.path.normpath(os.path.join(directory, relative))
        found.extend(relative + suffix for is_dir, suffix in ((False, ""), (True, "/")) if ignore.ignores(path, is_dir))
    # A pattern without a trailing `/` matches a file and a directory alike.
    expected = [e + s for e in IGNORED_BY_GIT[pattern] for s in (("/",) if e.endswith("/") else ("", "/"))]
    assert sorted(found) == sorted(e.replace("//", "/") for e in expected)


def test_patterns_of_one_file_ignore_what_any_of_them_does() -> None:
    ignore = GitIgnore("root", tuple(IGNORED_BY_GIT))
    for relative in PATHS:
        for is_dir in (False, True):
            alone = any(GitIgnore("root", (p,)).ignores(f"root/{relative}", is_dir) for p in IGNORED_BY_GIT)
            assert ignore.ignores(f"root/{relative}", is_dir) == alone


def test_ignored_files_and_directories_are_not_discovered(tmp_path: Path) -> None:
    for name in ("keep.py", "gen_x.py", "build/b.py", "docs/d.py", "docs/deep/e.py", "sub/build.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("# comment\ngen_*.py\nbuild/\n/docs/*.py\n")
    files, missing = discover([str(tmp_path)], Settings(root=str(tmp_path)))
    kept = sorted(Path(f).relative_to(tmp_path).as_posix() for f in files)
    assert kept == ["docs/deep/e.py", "keep.py", "sub/build.py"] and missing == []


def test_a_later_negated_pattern_and_a_deeper_gitignore_re_include_as_git_does(tmp_path: Path) -> None:
    names = ["a.py", "keep.py", "x.gen.py", "sub/x.gen.py", "sub/y.gen.py", "sub/deep/z.py", "out/b.py",
             "docs/ok.py", "docs/no.py", "gen/g.py", "!weird.py"]  # fmt: skip
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("*.gen.py\nout/\n!out/\ndocs/*\n!docs/ok.py\ngen/\n!gen/g.py\n\\!weird.py\n")
    (tmp_path / "sub" / ".gitignore").write_text("!x.gen.py\ndeep/\n")
    files, _ = discover([str(tmp_path)], Settings(root=str(tmp_path)))
    kept = sorted(Path(f).relative_to(tmp_path).as_posix() for f in files)
    # What `git ls-files --others --exclude-standard` lists for this tree: the last matching pattern decides,
    # the deeper .gitignore over the upper one, and nothing comes back from inside an ignored directory.
    assert kept == ["a.py", "docs/ok.py", "keep.py", "out/b.py", "sub/x.gen.py"]
