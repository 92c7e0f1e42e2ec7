#!/usr/bin/env python3
"""No function outside tests/ and bench/ is longer than MAX lines (80).

usage: check_function_length.py [--max N] [SOURCE_DIR]   (default: this repository)

A function's length runs from the line of its name to its closing brace, as
universal-ctags (Debian's universal-ctags package) reports them: the `line`
and `end` fields of each function tag. Lambdas are not functions: ctags tags
them as __anon... functions; they are left out (their lines count in the
function that holds them). A function whose end ctags cannot find is reported
too, since it cannot be measured.

Files: `git ls-files` under SOURCE_DIR when it is a git work tree, else every
C++ file under it; in both cases nothing under tests/, bench/ or build*/.
Prints `file:line name (N lines)` for each, exits 1 if there is any.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

SUFFIXES = (".h", ".hpp", ".hh", ".cpp", ".cc", ".cxx")
SKIP_TOP = ("tests", "bench")


def skipped(rel):
    top = rel.split("/")[0]
    return top in SKIP_TOP or top.startswith("build") or top.startswith(".")


def source_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             capture_output=True, text=True).stdout
        files = [f for f in out.split("\0") if f]
    except (subprocess.CalledProcessError, FileNotFoundError):
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in filenames:
                files.append(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"))
    return sorted(f for f in files if f.endswith(SUFFIXES) and not skipped(f)
                  and os.path.isfile(os.path.join(root, f)))


def function_tags(root, files):
    cmd = ["ctags", "--language-force=C++", "--kinds-C++=f", "--fields=+neZ",
           "--output-format=json", "-f", "-"] + files
    out = subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        tag = json.loads(line)
        if tag.get("_type") == "tag" and tag.get("kind") == "function":
            yield tag


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=80)
    ap.add_argument("root", nargs="?",
                    default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    args = ap.parse_args()
    if not shutil.which("ctags"):
        print("check_function_length.py: no ctags (apt-get install universal-ctags)", file=sys.stderr)
        return 2
    files = source_files(args.root)
    if not files:
        print(f"check_function_length.py: no C++ files under {args.root}", file=sys.stderr)
        return 2
    found = []
    for tag in function_tags(args.root, files):
        if tag["name"].startswith("__anon"):  # a lambda
            continue
        scope = re.sub(r"__anon[0-9a-f]+", "(anonymous)", tag.get("scope", ""))
        name = f'{scope}::{tag["name"]}' if scope else tag["name"]
        where = f'{tag["path"]}:{tag["line"]}'
        if "end" not in tag:
            found.append((tag["path"], tag["line"], f"{where} {name} (no end found: cannot measure)"))
            continue
        n = tag["end"] - tag["line"] + 1
        if n > args.max:
            found.append((tag["path"], tag["line"], f"{where} {name} ({n} lines)"))
    for _, _, msg in sorted(found):
        print(msg)
    if found:
        print(f"check_function_length.py: {len(found)} function(s) longer than {args.max} lines "
              f"in {len(files)} files")
        return 1
    print(f"check_function_length.py: no function longer than {args.max} lines in {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
