#!/usr/bin/env python3
"""memctl plot of a real replay's history: memd replays the sample trace in
batch mode (--history every 10000 events, --print buddyinfo,pagetypeinfo),
memctl plots the history, and the end of every line is where the replay's
final files put it. Per zone of buddyinfo: the last point of each free_K
line is, through its panel's stated scale (inverted from the panel's data-
attributes, log1p), buddyinfo's count at order K within half a pixel; the
last point of each migrate type's line likewise pagetypeinfo's block count;
the last x is the panel's right end, the trace's event count (the "events"
line of memd's report on stderr). The files are parsed here on their own.
Half a pixel is what the picture resolves: on a log1p scale it tells 0
from 1 by many pixels but not 763 from 764 (0.2 px in a 172 px panel).
With --render, the picture goes through Chromium (svgpng.py): a PNG of the
SVG's size in which each migrate type that has blocks at the end has its
colour.

usage: history_plot_test.py MEMD MEMCTL TRACE [--render]
       exit 0 passed, 1 failed, 77 skipped
"""
import math
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgpng  # noqa: E402

NS = svgpng.SVG_NS
TYPES = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"]
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def split_print(text):
    """{name: text} of memd --print A,B: each file under '==> NAME <=='."""
    parts = re.split(r"^==> (\S+) <==\n", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def parse_buddyinfo(text):
    """{(nid, zone): [free blocks at order 0..10]}"""
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"Node (\d+), zone +(\S+)((?: +\d+){11}) *", line)
        if m:
            out[(int(m.group(1)), m.group(2))] = [int(v) for v in m.group(3).split()]
    check(out, "no zone in buddyinfo")
    return out


def parse_block_counts(text):
    """{(nid, zone): {type: blocks}} from "Number of blocks type"."""
    out, columns = {}, None
    for line in text.splitlines():
        if line.startswith("Number of blocks type"):
            columns = line.split()[4:]
            check(columns == TYPES, f"pagetypeinfo's block table columns {columns}")
            continue
        m = re.fullmatch(r"Node (\d+), zone +(\S+)((?: +\d+)+) *", line)
        if columns and m:
            out[(int(m.group(1)), m.group(2))] = dict(zip(columns, map(int, m.group(3).split())))
        elif not line.strip():
            columns = None
    return out


def events_replayed(report):
    m = re.search(r"^  events +(\d+)$", report, flags=re.M)
    check(m, f"no events line in memd's report: {report[:200]!r}")
    return int(m.group(1)) if m else 0


def pixel_y(panel, value):
    """The y pixel of `value` on the panel's scale (its data- attributes)."""
    v0, v1 = float(panel.get("data-y0")), float(panel.get("data-y1"))
    p0, p1 = float(panel.get("data-py0")), float(panel.get("data-py1"))
    f = {"log1p": math.log1p, "linear": float}[panel.get("data-y")]
    return p0 + (f(value) - f(v0)) / (f(v1) - f(v0)) * (p1 - p0)


def panels(root):
    """{(node, zone, panel id): the panel's <g>} of the one column."""
    out = {}
    for g in root.iter(NS + "g"):
        if g.get("data-panel"):
            check(g.get("data-column") == "0", f"a panel in column {g.get('data-column')}")
            out[(int(g.get("data-node")), g.get("data-zone"), g.get("data-panel"))] = g
    return out


def last_point(panel, series, where):
    lines = [p for p in panel.iter(NS + "polyline") if p.get("data-series") == series]
    if not check(len(lines) == 1, f"{where}: {len(lines)} lines of {series}"):
        return None
    pts = lines[0].get("points").split()
    return tuple(map(float, pts[-1].split(","))) if pts else None


def check_end(panel, series, value, where):
    """The line's last point is (the panel's right end, the value's pixel)."""
    point = last_point(panel, series, where)
    if point is None:
        return
    x_end = float(panel.get("data-px1"))
    check(abs(point[0] - x_end) <= 0.5, f"{where} {series}: last x {point[0]}, the panel "
          f"ends at {x_end}")
    y = pixel_y(panel, value)
    check(abs(point[1] - y) <= 0.5, f"{where} {series}: last y {point[1]}, the final "
          f"{value} is at {y:.2f}")


def check_plot(root, buddy, blocks, events):
    ps = panels(root)
    zones = sorted({(n, z) for n, z, _ in ps})
    check(zones == sorted(buddy), f"the plot's zones {zones}, buddyinfo's {sorted(buddy)}")
    check(sorted(blocks) == sorted(buddy), "pagetypeinfo's zones are not buddyinfo's")
    for key, free in buddy.items():
        where = f"node {key[0]} {key[1]}"
        fb, pb = ps.get((*key, "free_blocks")), ps.get((*key, "pageblocks"))
        if not check(fb is not None and pb is not None, f"{where}: no panels"):
            continue
        check(fb.get("data-y") == pb.get("data-y") == "log1p", f"{where}: y scales "
              f"{fb.get('data-y')} {pb.get('data-y')}")
        for g in (fb, pb):
            check(g.get("data-x1") == str(events), f"{where} {g.get('data-panel')}: data-x1 "
                  f"{g.get('data-x1')}, the trace's events {events}")
        for order, count in enumerate(free):
            check_end(fb, f"free_{order}", count, where)
        for t in TYPES:
            check_end(pb, t.lower(), blocks.get(key, {}).get(t, -1), where)


def check_render(svg, png, size, blocks):
    try:
        got = svgpng.render_png(svg, png)
    except svgpng.ChromiumMissing as e:
        print(f"history_plot_test: render skipped: {e}", file=sys.stderr)
        return False
    check(got == size == svgpng.png_size(png), f"PNG {svgpng.png_size(png)}, SVG {size}")
    counts = svgpng.classify(png)
    present = [t for t in TYPES if any(row[t] for row in blocks.values())]
    check(len(present) >= 3, f"the replay ends with blocks of {present} only")
    for t in present:
        check(counts[t] >= 50, f"{t} has blocks but its colour has {counts[t]} pixels")
    return True


def run(args, what):
    p = subprocess.run(args, capture_output=True, text=True, timeout=100)
    check(p.returncode == 0, f"{what} exited {p.returncode}: {p.stderr[-500:]}")
    return p


def main(argv):
    if len(argv) < 4:
        print("usage: history_plot_test.py MEMD MEMCTL TRACE [--render]", file=sys.stderr)
        return 2
    memd, memctl, trace, want_render = argv[1], argv[2], argv[3], "--render" in argv[4:]
    with tempfile.TemporaryDirectory() as tmp:
        config, csv, svg = (os.path.join(tmp, n) for n in ("memd.toml", "h.csv", "p.svg"))
        with open(config, "w") as f:
            f.write('[daemon]\nstate_dir = ""\n')  # the default machine
        p = run([memd, "--config", config, "--replay", trace, "--history", csv, "--every",
                 "10000", "--print", "buddyinfo,pagetypeinfo"], "memd --replay")
        files = split_print(p.stdout)
        events = events_replayed(p.stderr)
        check(events == 300000 or "build-sample" not in trace, f"{events} events in the sample")
        run([memctl, "plot", csv, "-o", svg], "memctl plot")
        width, height, root = svgpng.validate_svg(svg)
        buddy = parse_buddyinfo(files.get("buddyinfo", ""))
        blocks = parse_block_counts(files.get("pagetypeinfo", ""))
        check_plot(root, buddy, blocks, events)
        rendered = want_render and check_render(svg, os.path.join(tmp, "p.png"),
                                                (width, height), blocks)
    print("history_plot_test: " + ("FAILED" if FAILURES else "passed") +
          ("" if rendered or not want_render else " (render skipped: no chromium)"))
    if FAILURES:
        return 1
    return svgpng.SKIP if want_render and not rendered else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
