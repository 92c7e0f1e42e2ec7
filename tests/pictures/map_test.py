#!/usr/bin/env python3
"""pageblocks.svg against pagetypeinfo and zoneinfo, on three machines: the
default one fresh, the default one after replaying the sample trace (batch
mode), and two nodes with kernelcore=1G after the same trace. One memd run
each prints pageblocks.svg, pagetypeinfo and zoneinfo; the kernel-format
files are parsed here on their own.

Without rendering (always): the SVG is valid; its zones are pagetypeinfo's,
in its order; each zone's cells are 11x11 below data-map-top, as many as the
zone's blocks, and the colours they are filled with (classified by hue, not
read from data-mt) count pagetypeinfo's "Number of blocks type" row exactly;
each zone's label and data- attributes give zoneinfo's start_pfn and spanned.

With --render, the picture itself, rendered by Chromium (svgpng.py): the
three maps go through one Chromium run, stacked in one SVG as nested <svg>
elements at whole-pixel offsets (one browser start instead of three keeps
the test within its time), and each map's region of the PNG is checked:
- per zone, each cell's colour is the majority colour of its 11x11 pixels
  (unsaturated ones, such as the black dot, ignored; the cell's position is
  its rect's x/y): the cells per colour are pagetypeinfo's row, exactly;
- below data-map-top, the pixels of each migrate type's colour are in
  proportion to pagetypeinfo's block counts (net of the dots), and no pixel
  there has another saturated colour.

usage: map_test.py MEMD TRACE [--render]     exit 0 passed, 1 failed, 77 skipped
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
CELL = 11  # a cell's side in px (pageblock_map.h); cells are on a 12 px pitch
FAILURES = []

DEFAULT_CONFIG = '[daemon]\nstate_dir = ""\n'
TWO_NODES_CONFIG = """[machine]
size = "4G"
cmdline = "kernelcore=1G"

[[machine.node]]
size = "2G"
cpus = [0]

[[machine.node]]
size = "2G"
cpus = [1]

[daemon]
state_dir = ""
"""


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


# --- the kernel's files, parsed on their own ------------------------------------------------------

def split_print(text):
    """{name: text} of memd --print A,B,...: each file under '==> NAME <==',
    the files separated by one blank line."""
    parts = re.split(r"^==> (\S+) <==\n", text, flags=re.M)
    check(parts[0] == "", f"text before the first header: {parts[0][:80]!r}")
    files = {}
    for i in range(1, len(parts), 2):
        body = parts[i + 1]
        if i + 2 < len(parts):
            check(body.endswith("\n\n"), f"{parts[i]} is not followed by a blank line")
            body = body[:-1]
        files[parts[i]] = body
    return files


def parse_block_counts(pagetypeinfo):
    """[((nid, zone), {type: blocks})] in the file's order, from each node's
    "Number of blocks type" table."""
    rows, columns = [], None
    for line in pagetypeinfo.splitlines():
        if line.startswith("Number of blocks type"):
            columns = line.split()[4:]
            check(columns == TYPES, f"pagetypeinfo's block table columns {columns}")
            continue
        m = re.fullmatch(r"Node (\d+), zone +(\S+)((?: +\d+)+) *", line)
        if columns and m:
            counts = [int(v) for v in m.group(3).split()]
            rows.append(((int(m.group(1)), m.group(2)), dict(zip(columns, counts))))
        elif not line.strip():
            columns = None
    return rows


def parse_free_blocks(pagetypeinfo):
    """{(nid, zone): {type: [free blocks at order 0..10]}} from the free table."""
    out = {}
    for line in pagetypeinfo.splitlines():
        m = re.fullmatch(r"Node +(\d+), zone +(\S+), type +(\S+)((?: +\d+){11}) *", line)
        if m:
            zone = out.setdefault((int(m.group(1)), m.group(2)), {})
            zone[m.group(3)] = [int(v) for v in m.group(4).split()]
    return out


def parse_zoneinfo(zoneinfo):
    """{(nid, zone): (start_pfn, spanned)}"""
    out, key, spanned = {}, None, None
    for line in zoneinfo.splitlines():
        m = re.fullmatch(r"Node (\d+), zone +(\S+)", line)
        if m:
            key, spanned = (int(m.group(1)), m.group(2)), None
            continue
        m = re.fullmatch(r" +spanned +(\d+)", line)
        if m and key:
            spanned = int(m.group(1))
        m = re.fullmatch(r" +start_pfn: +(\d+)", line)
        if m and key:
            out[key] = (int(m.group(1)), spanned)
    return out


# --- the SVG ------------------------------------------------------------------------------------

def zone_groups(root):
    return [g for g in root.iter(NS + "g") if g.get("data-zone") is not None]


def cells(group):
    return [r for r in group.iter(NS + "rect") if r.get("data-pfn") is not None]


def rgb(hex_colour):
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def check_labels(name, group, key, zoneinfo):
    """The zone's heading names it; its range label and data- attributes
    give zoneinfo's start_pfn and spanned."""
    start, spanned = zoneinfo.get(key, (None, None))
    where = f"{name}: node {key[0]} {key[1]}"
    texts = ["".join(t.itertext()) for t in group.iter(NS + "text")]
    check(f"Node {key[0]}, zone {key[1]}" in texts, f"{where}: no heading in {texts[:2]}")
    found = [re.search(r"start_pfn (0x[0-9a-f]+), spanned (0x[0-9a-f]+)", t) for t in texts]
    found = [(int(m.group(1), 16), int(m.group(2), 16)) for m in found if m]
    check(found == [(start, spanned)],
          f"{where}: the label says (start_pfn, spanned) {found}, zoneinfo {(start, spanned)}")
    attrs = (int(group.get("data-start-pfn"), 16), int(group.get("data-spanned"), 16))
    check(attrs == (start, spanned), f"{where}: data-start-pfn/spanned {attrs}, "
          f"zoneinfo {(start, spanned)}")


def check_svg(name, root, height, blocks, zoneinfo):
    """The SVG's structure against the parsed files. Returns [(key, group)]."""
    groups = zone_groups(root)
    keys = [(int(g.get("data-nid")), g.get("data-zone")) for g in groups]
    check(keys == [k for k, _ in blocks], f"{name}: zones {keys}, pagetypeinfo's "
          f"{[k for k, _ in blocks]}")
    check(root.get("data-pageblocks-per-cell") == "1",
          f"{name}: {root.get('data-pageblocks-per-cell')} pageblocks per cell")
    top = float(root.get("data-map-top"))
    for (key, row), g in zip(blocks, groups):
        where = f"{name}: node {key[0]} {key[1]}"
        check_labels(name, g, key, zoneinfo)
        cs = cells(g)
        check(len(cs) == sum(row.values()) == int(g.get("data-blocks")),
              f"{where}: {len(cs)} cells, data-blocks {g.get('data-blocks')}, "
              f"pagetypeinfo {sum(row.values())}")
        for c in cs:
            x, y = float(c.get("x")), float(c.get("y"))
            check((c.get("width"), c.get("height")) == (str(CELL), str(CELL))
                  and top <= y and y + CELL <= height and x == int(x) and y == int(y),
                  f"{where}: cell {c.get('data-pfn')} at ({x}, {y}) size "
                  f"{c.get('width')}x{c.get('height')}")
        by_fill = dict.fromkeys(TYPES, 0)
        for c in cs:
            colour = svgpng.classify_colour(rgb(c.get("fill")))
            by_fill[colour] = by_fill.get(colour, 0) + 1
        check(by_fill == row, f"{where}: cells by fill colour {by_fill}, pagetypeinfo {row}")
    return list(zip([k for k, _ in blocks], groups))


# --- the picture --------------------------------------------------------------------------------

class Pixels:
    """A region of the rendered PNG, pixels classified by svgpng (cached)."""

    def __init__(self, image, dx, dy):
        self.px, self.dx, self.dy, self.cache = image.load(), dx, dy, {}

    def name(self, x, y):
        p = self.px[self.dx + x, self.dy + y][:3]
        if p not in self.cache:
            self.cache[p] = svgpng.classify_colour(p)
        return self.cache[p]

    def counts(self, x0, y0, x1, y1):
        out = {}
        for y in range(y0, y1):
            for x in range(x0, x1):
                n = self.name(x, y)
                if n is not None:
                    out[n] = out.get(n, 0) + 1
        return out


def check_cells(name, pixels, zones, blocks):
    """Each cell's majority colour, counted per zone: pagetypeinfo's row."""
    for (key, g), (_, row) in zip(zones, blocks):
        got = dict.fromkeys(TYPES, 0)
        for c in cells(g):
            x, y = int(float(c.get("x"))), int(float(c.get("y")))
            counts = pixels.counts(x, y, x + CELL, y + CELL)
            major = max(counts, key=counts.get) if counts else "no colour"
            got[major] = got.get(major, 0) + 1
        check(got == row, f"{name}: node {key[0]} {key[1]}: cells by their pixels {got}, "
              f"pagetypeinfo {row}")


def dotted_blocks(free, key):
    """Blocks of each type pagetypeinfo says are wholly free: a free page of
    order 9 is one, of order 10 two (pageblock_order 9)."""
    return {t: free[key][t][9] + 2 * free[key][t][10] for t in TYPES}


def check_area(name, pixels, root, width, height, blocks, free, dot_area):
    """Below data-map-top the pixels of each type's colour are in proportion
    to its blocks, each counted as a cell (CELL^2 = 121 px) less the dot on
    it when pagetypeinfo says it is wholly free (pi r^2 = 12.6 px for r=2).
    Tolerance: 4 % of each type's share, because of the dots: Chromium draws
    the dot aliased (the cells are crispEdges), as a blob of 9 to 13 whole
    pixels rather than 12.6, which moves a type whose every cell is dotted
    by up to 3.6 px of 121 per cell (3 %) against the undotted ones. A cell
    missing or drawn in another colour moves its type by 121 px, more than
    4 % of every type here but Movable (of ~2000 cells); the per-zone cell
    counts catch those exactly."""
    top = int(float(root.get("data-map-top")))
    got = pixels.counts(0, top, width, height)
    expected = dict.fromkeys(TYPES, 0.0)
    for key, row in blocks:
        dots = dotted_blocks(free, key)
        for t in TYPES:
            expected[t] += row[t] * CELL * CELL - dots[t] * dot_area
    check(set(got) <= set(TYPES), f"{name}: other colours below data-map-top: "
          f"{ {k: v for k, v in got.items() if k not in TYPES} }")
    total_px, total_exp = sum(got.get(t, 0) for t in TYPES), sum(expected.values())
    for t in TYPES:
        share, want = got.get(t, 0) / total_px, expected[t] / total_exp
        check(abs(share - want) <= 0.04 * want,
              f"{name}: {t}'s colour is {share:.5f} of the map's pixels "
              f"({got.get(t, 0)} px), its blocks {want:.5f}")


def dot_radius(root):
    rs = {c.get("r") for c in root.iter(NS + "circle")}
    check(len(rs) == 1, f"dots of radii {rs}")
    return float(rs.pop()) if len(rs) == 1 else 2.0


def stack(maps, path):
    """One SVG of the maps one under another, each as itself (a nested <svg>
    at a whole-pixel offset). Returns the offsets and the size."""
    width, offsets, y = max(m["width"] for m in maps), [], 0
    inner = []
    for m in maps:
        text = re.sub(r"^<\?xml[^>]*\?>\s*", "", m["svg"])
        inner.append(text.replace("<svg ", f'<svg x="0" y="{y}" ', 1))
        offsets.append(y)
        y += m["height"]
    with open(path, "w") as f:
        f.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"'
                f' version="1.1" width="{width}px" height="{y}px" viewBox="0 0 {width} {y}">\n'
                f'<rect width="{width}" height="{y}" fill="#ffffff"/>\n' + "".join(inner) +
                "</svg>\n")
    return offsets, (width, y)


def render(maps, tmp):
    svg, png = os.path.join(tmp, "maps.svg"), os.path.join(tmp, "maps.png")
    offsets, size = stack(maps, svg)
    try:
        got = svgpng.render_png(svg, png)
    except svgpng.ChromiumMissing as e:
        print(f"map_test: render skipped: {e}", file=sys.stderr)
        return False
    check(got == size == svgpng.png_size(png), f"PNG {svgpng.png_size(png)}, SVG {size}")
    from PIL import Image  # python3-pil
    with Image.open(png) as im:
        image = im.convert("RGB")
    for m, dy in zip(maps, offsets):
        pixels = Pixels(image, 0, dy)
        check_cells(m["name"], pixels, m["zones"], m["blocks"])
        check_area(m["name"], pixels, m["root"], m["width"], m["height"], m["blocks"],
                   m["free"], math.pi * dot_radius(m["root"]) ** 2)
    return True


# --- the machines -------------------------------------------------------------------------------

def run_memd(memd, config, trace, tmp, name):
    path = os.path.join(tmp, name + ".toml")
    with open(path, "w") as f:
        f.write(config)
    args = [memd, "--config", path, *(["--replay", trace] if trace else []),
            "--print", "pageblocks.svg,pagetypeinfo,zoneinfo"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=100)
    check(p.returncode == 0, f"{name}: memd exited {p.returncode}: {p.stderr[-500:]}")
    return split_print(p.stdout)


def machine(memd, config, trace, tmp, name):
    files = run_memd(memd, config, trace, tmp, name)
    svg_path = os.path.join(tmp, name + ".svg")
    with open(svg_path, "w") as f:
        f.write(files.get("pageblocks.svg", ""))
    width, height, root = svgpng.validate_svg(svg_path)
    blocks = parse_block_counts(files.get("pagetypeinfo", ""))
    check(len(blocks) >= 3, f"{name}: {len(blocks)} zones in pagetypeinfo's block tables")
    zones = check_svg(name, root, height, blocks, parse_zoneinfo(files.get("zoneinfo", "")))
    return {"name": name, "svg": files.get("pageblocks.svg", ""), "width": width,
            "height": height, "root": root, "blocks": blocks, "zones": zones,
            "free": parse_free_blocks(files["pagetypeinfo"])}


def main(argv):
    if len(argv) < 3:
        print("usage: map_test.py MEMD TRACE [--render]", file=sys.stderr)
        return 2
    memd, trace, want_render = argv[1], argv[2], "--render" in argv[3:]
    with tempfile.TemporaryDirectory() as tmp:
        maps = [machine(memd, DEFAULT_CONFIG, None, tmp, "fresh"),
                machine(memd, DEFAULT_CONFIG, trace, tmp, "replayed"),
                machine(memd, TWO_NODES_CONFIG, trace, tmp, "two-nodes-kernelcore")]
        # The cases differ where it matters: the replay made Unmovable and
        # Reclaimable blocks; the second machine has node 1 and a Movable zone.
        check(any(r["Reclaimable"] for _, r in maps[1]["blocks"]), "replayed: no Reclaimable")
        check((1, "Movable") in [k for k, _ in maps[2]["blocks"]], "no node 1 Movable zone")
        rendered = want_render and render(maps, tmp)
    print("map_test: " + ("FAILED" if FAILURES else "passed") +
          ("" if rendered or not want_render else " (render skipped: no chromium)"))
    if FAILURES:
        return 1
    return svgpng.SKIP if want_render and not rendered else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
