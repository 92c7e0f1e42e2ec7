#!/usr/bin/env python3
"""memctl plot on hand-written replay histories (two files, two zones each,
one zone in common): the SVG is valid; every point of a line is where the
panel's stated scale puts the CSV's value (within half a pixel); a zone's y
scales are the same in both columns; the marks sit between the samples where
the counters grew; the labels are there; 6,000 samples are decimated without
losing a spike (bench/plot_bench.cpp times 100,000 rows); the output is the
same bytes every time; bad input gives the documented exit status and one
line naming the file and line (every message: tests/memctl/plot_test.cpp).
With --render, the picture also goes through chromium (svgpng.py): a PNG of
the SVG's size in which each migrate type's colour appears.

usage: plot_test.py MEMCTL [--render]     exit 0 passed, 1 failed, 77 skipped
"""
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgpng  # noqa: E402

NS = svgpng.SVG_NS
HEADER = ("event,node,zone,free_pages,free_0,free_1,free_2,free_3,free_4,free_5,free_6,"
          "free_7,free_8,free_9,free_10,unmovable,movable,reclaimable,highatomic,isolate,"
          "unusable_9,unusable_10,extfrag_claims,extfrag_steals,alloc_failures")
COLUMNS = HEADER.split(",")
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def row(event, zone, free_pages, free, types, claims=0, steals=0, failures=0, node=0):
    """A CSV row: `free` is free_0..free_10, `types` Unmovable..Isolate."""
    assert len(free) == 11 and len(types) == 5
    fields = [event, node, zone, free_pages, *free, *types, "0.250", "0.500", claims, steals,
              failures]
    return ",".join(str(f) for f in fields)


def free_blocks(base, k):
    return [base + (o * 3 + k) % 7 for o in range(11)]


# File A: DMA32 and Normal, samples at 0, 100, ..., 500.
# Normal: free_9 3, 5, 8, 13, 21, 34; claims grow 200->300 (by 2); steals
# 0->100 (1) and 400->500 (3); the machine's failures 300->400 (1).
A_FREE9 = [3, 5, 8, 13, 21, 34]
A_CLAIMS = [0, 0, 0, 2, 2, 2]
A_STEALS = [0, 1, 1, 1, 1, 4]
A_FAILS = [0, 0, 0, 0, 1, 1]


def history_a():
    lines = [HEADER]
    for i, e in enumerate(range(0, 600, 100)):
        dma32 = free_blocks(2, i)
        lines.append(row(e, "DMA32", 50000 - 1000 * i, dma32, [4 + i, 480, 3, 0, 0],
                         failures=A_FAILS[i]))
        normal = free_blocks(1, i)
        normal[9] = A_FREE9[i]
        lines.append(row(e, "Normal", 200000 - 30000 * i, normal, [10 + i, 400 - i, 5, 2, 1],
                         claims=A_CLAIMS[i], steals=A_STEALS[i], failures=A_FAILS[i]))
    return "\n".join(lines) + "\n"


# File B: DMA32 (larger: its free_10 sets the shared scale) and Movable,
# samples at 0, 150, ..., 600; no growth of any counter.
B_DMA32_FREE10 = [700, 650, 610, 580, 560]


def history_b():
    lines = [HEADER]
    for i, e in enumerate(range(0, 750, 150)):
        dma32 = free_blocks(0, i)
        dma32[10] = B_DMA32_FREE10[i]
        lines.append(row(e, "DMA32", 700000 - 9000 * i, dma32, [2, 500, 1, 0, 0]))
        lines.append(row(e, "Movable", 90000, free_blocks(5, i), [0, 256, 0, 0, 0]))
    return "\n".join(lines) + "\n"


def parse_csv(text):
    """{(node, zone): [dict per row]}"""
    zones = {}
    for line in text.strip().split("\n")[1:]:
        r = dict(zip(COLUMNS, line.split(",")))
        zones.setdefault((int(r["node"]), r["zone"]), []).append(r)
    return zones


def memctl(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def pixel(panel, axis, value):
    """The pixel of `value` on a panel's x or y scale, from its data- attributes."""
    if axis == "x":
        v0, v1 = float(panel.get("data-x0")), float(panel.get("data-x1"))
        p0, p1 = float(panel.get("data-px0")), float(panel.get("data-px1"))
        f = float
    else:
        v0, v1 = float(panel.get("data-y0")), float(panel.get("data-y1"))
        p0, p1 = float(panel.get("data-py0")), float(panel.get("data-py1"))
        f = math.log1p if panel.get("data-y") == "log1p" else float
    return p0 + (f(value) - f(v0)) / (f(v1) - f(v0)) * (p1 - p0)


def panels(root):
    """{(column, zone, panel id): the panel's <g>}"""
    out = {}
    for g in root.iter(NS + "g"):
        if g.get("data-panel"):
            out[(int(g.get("data-column")), g.get("data-zone"), g.get("data-panel"))] = g
    return out


def points(polyline):
    return [tuple(map(float, p.split(","))) for p in polyline.get("points").split()]


def line_of(panel, series):
    found = [p for p in panel.iter(NS + "polyline") if p.get("data-series") == series]
    check(len(found) == 1, f"{len(found)} lines of {series} in a panel")
    return found[0] if found else None


def check_line(panel, series, rows, what):
    """Every point of the series' line is its row's (event, value), within half a pixel."""
    line = line_of(panel, series)
    if line is None:
        return
    pts = points(line)
    check(len(pts) == len(rows), f"{what}: {len(pts)} points for {len(rows)} samples")
    for (x, y), r in zip(pts, rows):
        ex, ey = pixel(panel, "x", int(r["event"])), pixel(panel, "y", int(r[series]))
        check(abs(x - ex) <= 0.5 and abs(y - ey) <= 0.5,
              f"{what}: the point of event {r['event']} is ({x}, {y}), its value "
              f"{r[series]} is at ({ex:.2f}, {ey:.2f})")
    check(line.get("data-zone") == panel.get("data-zone"), f"{what}: data-zone")


def check_geometry(root, a, b):
    ps = panels(root)
    for col, csv in ((0, a), (1, b)):
        for (node, zone), rows in csv.items():
            where = f"column {col} {zone}"
            check_line(ps[(col, zone, "free_blocks")], "free_9", rows, where + " free_9")
            check_line(ps[(col, zone, "free_blocks")], "free_10", rows, where + " free_10")
            check_line(ps[(col, zone, "pageblocks")], "movable", rows, where + " movable")
            check_line(ps[(col, zone, "free_pages")], "free_pages", rows, where + " free_pages")
    # The zone in both files has the same y scales in both columns; they reach
    # B's 700 free order-10 blocks and its 700000 free pages.
    for panel in ("free_blocks", "pageblocks", "free_pages"):
        left, right = ps[(0, "DMA32", panel)], ps[(1, "DMA32", panel)]
        for attr in ("data-y", "data-y0", "data-y1", "data-py0", "data-py1"):
            check(left.get(attr) == right.get(attr),
                  f"DMA32 {panel}: {attr} {left.get(attr)} and {right.get(attr)}")
    check(float(ps[(0, "DMA32", "free_blocks")].get("data-y1")) >= 700, "DMA32 blocks scale")
    check(float(ps[(0, "DMA32", "free_pages")].get("data-y1")) >= 700000, "DMA32 pages scale")
    # One x scale for both: events 0 to 600.
    for key, g in ps.items():
        check((g.get("data-x0"), g.get("data-x1")) == ("0", "600"), f"{key}: x range")
    check((1, "Normal", "free_blocks") not in ps and (0, "Movable", "free_blocks") not in ps,
          "a zone a history does not have is drawn")


def marks(root, column, zone):
    for g in root.iter(NS + "g"):
        if (g.get("data-panel"), g.get("data-column"), g.get("data-zone")) == \
                ("marks", str(column), zone):
            return g
    return None


def check_marks(root):
    g = marks(root, 0, "Normal")
    got = sorted((r.get("data-series"), int(r.get("data-from")), int(r.get("data-to")),
                  int(r.get("data-delta"))) for r in g.iter(NS + "rect"))
    want = sorted([("extfrag_claims", 200, 300, 2), ("extfrag_steals", 0, 100, 1),
                   ("extfrag_steals", 400, 500, 3), ("alloc_failures", 300, 400, 1)])
    check(got == want, f"marks of Normal: {got}, expected {want}")
    for r in g.iter(NS + "rect"):
        x0, x1 = pixel(g, "x", int(r.get("data-from"))), pixel(g, "x", int(r.get("data-to")))
        x, w = float(r.get("x")), float(r.get("width"))
        check(abs(x - x0) <= 0.5 and abs(x + w - x1) <= 0.5,
              f"mark {r.get('data-series')} spans {x}..{x + w}, its events {x0}..{x1}")
    # The machine's failures show under each of its zones; B has none.
    got = [(r.get("data-series"), r.get("data-from")) for r in marks(root, 0, "DMA32").iter(NS + "rect")]
    check(got == [("alloc_failures", "300")], f"marks of A's DMA32: {got}")
    check(not list(marks(root, 1, "DMA32").iter(NS + "rect")), "B has no marks")


def texts(root):
    return ["".join(t.itertext()) for t in root.iter(NS + "text")]


def check_labels(root, labels):
    t = texts(root)
    for want in [*labels, "Node 0, zone DMA32", "Node 0, zone Normal", "Node 0, zone Movable",
                 *(f"order {o}" for o in range(11)), "Unmovable", "Movable", "Reclaimable",
                 "HighAtomic", "Isolate", "extfrag claims", "extfrag steals", "alloc failures",
                 "trace events replayed", "no zone Normal on node 0 in this history",
                 "no zone Movable on node 0 in this history", "+2", "+4", "+1"]:
        check(want in t, f"no text {want!r}")
    # Round tick labels: B's 700000 free pages make a 0..800k axis in steps of 200k.
    for tick in ("0", "200k", "400k", "600k", "800k", "100", "1k"):
        check(tick in t, f"no tick label {tick!r}")
    # The order of the rows: DMA32, Normal, Movable.
    zones = [s for s in t if s.startswith("Node 0, zone")][:3]
    check(zones == ["Node 0, zone DMA32", "Node 0, zone Normal", "Node 0, zone Movable"],
          f"zone rows {zones}")


def check_decimation(binary, tmp):
    """6,000 samples of one zone (10 a pixel column): at most 4 points per
    pixel column, the spike at sample 4321 kept, the last point the last row's."""
    lines = [HEADER]
    for i in range(6000):
        free = [i % 7] * 11
        free[0] = 5000 if i == 4321 else i % 11
        lines.append(row(i * 10, "Normal", 1000 + i % 13, free, [1, 2, 3, 4, 5]))
    path, out = os.path.join(tmp, "long.csv"), os.path.join(tmp, "long.svg")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    rc, _, err = memctl(binary, "plot", path, "-o", out)
    check(rc == 0, f"plot of 6,000 rows: {rc} {err}")
    _, _, root = svgpng.validate_svg(out)
    panel = panels(root)[(0, "Normal", "free_blocks")]
    pts = points(line_of(panel, "free_0"))
    width = float(panel.get("data-px1")) - float(panel.get("data-px0"))
    check(len(pts) <= 4 * (width + 1), f"{len(pts)} points for {width} pixel columns")
    check(abs(min(y for _, y in pts) - pixel(panel, "y", 5000)) <= 0.5, "the spike is lost")
    last = pixel(panel, "x", 59990), pixel(panel, "y", 5999 % 11)
    check(abs(pts[-1][0] - last[0]) <= 0.5 and abs(pts[-1][1] - last[1]) <= 0.5,
          f"the last point {pts[-1]}, expected {last}")
    check(any("each column draws its first, last, lowest and highest" in s for s in texts(root)),
          "the picture does not say it is decimated")


def check_error(binary, tmp, args, status, *needles):
    rc, out, err = memctl(binary, "plot", *args)
    check(rc == status, f"plot {args}: exit {rc}, expected {status} ({err.strip()})")
    check(err.count("\n") == 1 and err.startswith("memctl: "), f"plot {args}: stderr {err!r}")
    for n in needles:
        check(n in err, f"plot {args}: {n!r} not in {err.strip()!r}")


def check_errors(binary, tmp, good):
    """The binary's exit statuses (tests/memctl/plot_test.cpp has every
    message, in process)."""
    out = os.path.join(tmp, "err.svg")
    check_error(binary, tmp, [good], 2, "--output")
    check_error(binary, tmp, [os.path.join(tmp, "missing.csv"), "-o", out], 2,
                "missing.csv", "No such file")
    check(not os.path.exists(out), "a failed plot wrote its output")
    # A bad file after a good one: exit 1, and the old picture stays as it was.
    bad = os.path.join(tmp, "nan.csv")
    fields = row(0, "DMA32", 1, [0] * 11, [0] * 5).split(",")
    fields[7] = "x"
    with open(bad, "w") as f:
        f.write(f"{HEADER}\n{','.join(fields)}\n")
    with open(out, "w") as f:
        f.write("old")
    check_error(binary, tmp, [good, bad, "-o", out], 1, "nan.csv:2:", "free_3 is 'x'")
    with open(out) as f:
        check(f.read() == "old", "a failed plot replaced its output")


def check_render(svg, png, size):
    try:
        got = svgpng.render_png(svg, png)
    except svgpng.ChromiumMissing as e:
        print(f"plot_test: render skipped: {e}", file=sys.stderr)
        return False
    check(got == size == svgpng.png_size(png), f"PNG {svgpng.png_size(png)}, SVG {size}")
    counts = svgpng.classify(png)
    for name in ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"):
        check(counts[name] >= 100, f"{name}'s colour: {counts[name]} pixels")
    check(counts["CMA"] == 0, f"CMA's colour in a plot (the order lines?): {counts['CMA']}")
    return True


def main(argv):
    if len(argv) < 2:
        print("usage: plot_test.py MEMCTL [--render]", file=sys.stderr)
        return 2
    binary, render = argv[1], "--render" in argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        a_text, b_text = history_a(), history_b()
        a, b = os.path.join(tmp, "a.csv"), os.path.join(tmp, "b.csv")
        for path, text in ((a, a_text), (b, b_text)):
            with open(path, "w") as f:
                f.write(text)
        svg = os.path.join(tmp, "ab.svg")
        labels = ["machine A", "B <&> 'quoted'"]
        rc, _, err = memctl(binary, "plot", a, b, "-o", svg, "--label", labels[0],
                            "--label", labels[1])
        check(rc == 0, f"plot: exit {rc}: {err}")
        width, height, root = svgpng.validate_svg(svg)
        check_geometry(root, parse_csv(a_text), parse_csv(b_text))
        check_marks(root)
        check_labels(root, labels)
        again = os.path.join(tmp, "again.svg")
        memctl(binary, "plot", a, b, "-o", again, "--label", labels[0], "--label", labels[1])
        with open(svg, "rb") as f1, open(again, "rb") as f2:
            check(f1.read() == f2.read(), "two runs gave different bytes")
        default = os.path.join(tmp, "default.svg")
        memctl(binary, "plot", a, b, "-o", default)
        check({"a.csv", "b.csv"} <= set(texts(svgpng.validate_svg(default)[2])),
              "the columns' default titles are the files' names")
        check_decimation(binary, tmp)
        check_errors(binary, tmp, a)
        rendered = render and check_render(svg, os.path.join(tmp, "ab.png"), (width, height))
    print("plot_test: " + ("FAILED" if FAILURES else "passed") +
          ("" if rendered or not render else " (render skipped: no chromium)"))
    if FAILURES:
        return 1
    return svgpng.SKIP if render and not rendered else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
