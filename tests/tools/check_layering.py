#!/usr/bin/env python3
"""Checks which way the include arrows run between memd's directories.

usage: check_layering.py [SOURCE_DIR]   (default: the repository this script is in)

The rules (docs/architecture.md, issue 10):
  core/      includes nothing outside core/ (it is the machine, nothing else);
  protocol/  includes nothing from core/, daemon/, fusefs/, client/;
  fusefs/    includes nothing from daemon/ nor core/ (only fusefs/, protocol/);
  client/    includes nothing from core/, daemon/, fusefs/ (only client/, protocol/, traceio/);
  traceio/   includes nothing of memd's outside traceio/ (the trace-file adapter
             memctl and memd share: I/O and libraries, no machine, no protocol).
daemon/ may include anything. Project includes are written "dir/file.h" (from the
source root); an include without a directory is the including file's own
directory, "../x/y.h" is resolved. System headers (<...> that do not name a
project directory) are not checked.

Prints each violation as `file:line: includes X (rule)` and exits 1 if there is
any, 0 otherwise.
"""
import os
import posixpath
import re
import sys

PROJECT_DIRS = {"core", "protocol", "daemon", "fusefs", "client", "traceio", "tests", "bench"}
# directory -> (directories it may include, the rule as printed)
ALLOWED = {
    "core": ({"core"}, "core/ includes nothing outside core/"),
    "protocol": ({"protocol"}, "protocol/ includes nothing from core/, daemon/, fusefs/, client/"),
    "fusefs": ({"fusefs", "protocol"}, "fusefs/ includes nothing from daemon/ nor core/"),
    "client": ({"client", "protocol", "traceio"},
               "client/ includes nothing from core/, daemon/, fusefs/"),
    "traceio": ({"traceio"}, "traceio/ includes nothing of memd's outside traceio/"),
}
SOURCE_SUFFIXES = (".h", ".hpp", ".hh", ".cpp", ".cc", ".cxx", ".c")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def included_dir(including, quote, target):
    """The top directory of the project file an include names, or None."""
    if quote == '"' and "/" not in target:
        return including.split("/")[0]  # the including file's own directory
    if quote == '"' and target.startswith("."):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(including), target))
    top = target.split("/")[0]
    return top if top in PROJECT_DIRS else None


def violations(root):
    for top in sorted(ALLOWED):
        allowed, rule = ALLOWED[top]
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        quote, target = m.groups()
                        d = included_dir(rel, quote, target)
                        if d is not None and d not in allowed:
                            yield f"{rel}:{lineno}: includes {target} ({rule})"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..")
    if not os.path.isdir(os.path.join(root, "core")):
        print(f"check_layering.py: {root} has no core/ directory", file=sys.stderr)
        return 2
    found = list(violations(root))
    for v in found:
        print(v)
    if found:
        print(f"check_layering.py: {len(found)} include(s) against the layering rules")
        return 1
    print("check_layering.py: every include follows the layering rules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
