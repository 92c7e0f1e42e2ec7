#!/usr/bin/env python3
"""docs/example-kernelcore.md, run as written: the console session between
`<!-- session -->` and `<!-- end -->` is run command by command (`$ ` lines,
in bash, in a scratch directory beside a link to ../shared), each command's
output compared line for line with the lines the page shows after it; then
the pictures the session made are compared byte for byte with the ones the
page links in docs/example/, and checked as SVG.

usage: example_test.py MEMD MEMCTL SHARED_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgpng  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PAGE = os.path.join(SRC, "docs", "example-kernelcore.md")
PICTURES = ("compare.svg", "default.svg", "kernelcore.svg")


def session(page):
    """[(command, [expected output lines])] of the page's session block."""
    text = open(page, encoding="utf-8").read()
    m = re.search(r"<!-- session -->\n```console\n(.*?)```\n<!-- end -->", text, re.S)
    if not m:
        sys.exit(f"{page}: no ```console block between <!-- session --> and <!-- end -->")
    steps = []
    for line in m.group(1).splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif not steps:
            sys.exit(f"{page}: output before the first command: {line!r}")
        else:
            steps[-1][1].append(line)
    return steps


def run(steps, work, env):
    failures = 0
    for command, expected in steps:
        p = subprocess.run(["bash", "-c", "set -o pipefail; " + command], cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
        got = p.stdout.splitlines()
        if p.returncode != 0:
            print(f"FAIL: `{command}` exited {p.returncode}: {p.stderr.strip()}")
            failures += 1
        elif got != expected:
            print(f"FAIL: `{command}` printed other lines than the page shows")
            for i in range(max(len(got), len(expected))):
                a = expected[i] if i < len(expected) else "(nothing)"
                b = got[i] if i < len(got) else "(nothing)"
                if a != b:
                    print(f"  line {i + 1}: page {a!r}\n          got  {b!r}")
            failures += 1
    return failures


def compare_pictures(work):
    failures = 0
    for name in PICTURES:
        made = os.path.join(work, name)
        shown = os.path.join(SRC, "docs", "example", name)
        try:
            svgpng.validate_svg(made)
        except svgpng.SvgError as e:
            print(f"FAIL: {e}")
            failures += 1
            continue
        with open(made, "rb") as a, open(shown, "rb") as b:
            if a.read() != b.read():
                print(f"FAIL: docs/example/{name} is not what the session makes "
                      f"(cp {made} docs/example/ after checking the page's text)")
                failures += 1
    return failures


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    memd, memctl, shared = (os.path.abspath(a) for a in argv[1:])
    steps = session(PAGE)
    top = tempfile.mkdtemp(prefix="memd-example-")
    try:
        os.symlink(shared, os.path.join(top, "shared"))
        work = os.path.join(top, "work")
        os.mkdir(work)
        # The page's memd and memctl are the build's; nothing else on PATH changes.
        bindir = os.path.join(top, "bin")
        os.mkdir(bindir)
        os.symlink(memd, os.path.join(bindir, "memd"))
        os.symlink(memctl, os.path.join(bindir, "memctl"))
        env = dict(os.environ, PATH=bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
                   LC_ALL="C")
        failures = run(steps, work, env)
        if failures == 0:
            failures += compare_pictures(work)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    if failures:
        print(f"docs.example: {failures} failures")
        return 1
    print(f"docs.example: {len(steps)} commands, their output and {len(PICTURES)} pictures "
          "as the page shows them")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
