#!/usr/bin/env bash
# pageblocks.svg as `memd --print` gives it (no mount, no root): for the
# default machine, a 64 MiB one and a 4 TiB one of 16 nodes, the file is
# well-formed XML (python's xml.etree, and xmllint where installed) and plain
# SVG 1.1 (px width and height, a viewBox, no script, no external font), the
# same bytes twice, and its cells agree with `--print pagetypeinfo` and
# `--print zoneinfo`: per migrate type the counts of "Number of blocks type",
# per zone the span, every single-block cell's colour the type's colour mixed
# with white by free/1024, and nothing saturated but the type colours.
#   usage: pageblocks_svg_test.sh path/to/memd
set -euo pipefail
MEMD=$(readlink -f "${1:?usage: $0 path/to/memd}")
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
W=$(mktemp -d /tmp/memd-svg-test.XXXXXX)
trap 'rc=$?; rm -rf "$W"; [ $rc = 0 ] && echo "PASS: $(basename "$0")"; exit $rc' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

printf '[daemon]\nstate_dir = ""\n' >"$W/default.toml"
printf '[machine]\nsize = "64M"\ncpus = 1\n[daemon]\nstate_dir = ""\n' >"$W/small.toml"
{
  printf '[daemon]\nstate_dir = ""\n'
  for n in $(seq 0 15); do printf '[[machine.node]]\nsize = "256G"\ncpus = [%d]\n' "$n"; done
} >"$W/big.toml"

for machine in default small big; do
  "$MEMD" --config "$W/$machine.toml" --print pageblocks.svg >"$W/$machine.svg" ||
    fail "$machine: --print pageblocks.svg"
  "$MEMD" --config "$W/$machine.toml" --print pageblocks.svg | cmp -s - "$W/$machine.svg" ||
    fail "$machine: two prints of the same machine differ"
  "$MEMD" --config "$W/$machine.toml" --print pagetypeinfo >"$W/$machine.pagetypeinfo"
  "$MEMD" --config "$W/$machine.toml" --print zoneinfo >"$W/$machine.zoneinfo"
  if command -v xmllint >/dev/null; then
    xmllint --noout "$W/$machine.svg" || fail "$machine: xmllint refuses the map"
  fi
  "$PY" - "$W/$machine" <<'EOF' || fail "$machine: see above"
import re, sys
import xml.etree.ElementTree as ET

base = sys.argv[1]
svg_text = open(base + ".svg", encoding="utf-8").read()
root = ET.fromstring(svg_text)
NS = "{http://www.w3.org/2000/svg}"
TYPES = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"]
COLOURS = {"Unmovable": 0xd62728, "Movable": 0x2ca02c, "Reclaimable": 0xff7f0e,
           "HighAtomic": 0x9467bd, "Isolate": 0xbcbd22}
problems = []

def check(cond, what):
    if not cond:
        problems.append(what)

# Plain SVG 1.1.
check(root.tag == NS + "svg" and root.get("version") == "1.1", "root is not an SVG 1.1 <svg>")
w, h = root.get("width"), root.get("height")
check(re.fullmatch(r"\d+px", w or "") and re.fullmatch(r"\d+px", h or ""), "width/height not in px")
check(root.get("viewBox") == "0 0 %s %s" % (w[:-2], h[:-2]), "viewBox does not match the size")
check(not list(root.iter(NS + "script")), "has a script")
check("@font-face" not in svg_text and "url(" not in svg_text and "href" not in svg_text,
      "refers to something outside the file")
for family in re.findall(r"font-family:([^;}]*)", svg_text):
    check(family in ("sans-serif", "monospace"), "font-family " + family)

# pagetypeinfo's "Number of blocks type" and zoneinfo's spans.
counts, spans = {}, {}
in_table = False
for line in open(base + ".pagetypeinfo"):
    in_table = in_table or line.startswith("Number of blocks type")
    m = re.match(r"Node (\d+), zone +(\w+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) $", line)
    if in_table and m:
        counts["Node %s, zone %s" % m.group(1, 2)] = [int(x) for x in m.group(3, 4, 5, 6, 7)]
zone = None
for line in open(base + ".zoneinfo"):
    m = re.match(r"Node (\d+), zone +(\w+)$", line)
    if m:
        zone = "Node %s, zone %s" % m.group(1, 2)
    m = re.match(r"        spanned  (\d+)$", line)
    if m:
        spanned = int(m.group(1))
    m = re.match(r"  start_pfn: +(\d+)$", line)
    if m:
        spans[zone] = (int(m.group(1)), spanned)

def shade(rgb, free, pages):
    out = 0
    for s in (16, 8, 0):
        c = (rgb >> s) & 0xff
        out |= int(c + (255 - c) * free / (2 * pages) + 0.5) << s
    return out

per_cell = int(root.get("data-pageblocks-per-cell"))
map_top = int(root.get("data-map-top"))
drawn, total = {}, [0] * 5
for g in root.iter(NS + "g"):
    if g.get("data-zone") is None:
        continue
    name = "Node %s, zone %s" % (g.get("data-nid"), g.get("data-zone"))
    drawn[name] = (int(g.get("data-start-pfn"), 16), int(g.get("data-spanned"), 16))
    per_type = [0] * 5
    for cell in g:
        if cell.get("data-pfn") is None:
            continue
        if per_cell == 1:
            mt = cell.get("data-mt")
            per_type[TYPES.index(mt)] += 1
            want = shade(COLOURS[mt], int(cell.get("data-free")), 512)
            check(cell.get("fill") == "#%06x" % want,
                  "%s cell %s: fill %s, wanted #%06x" % (name, cell.get("data-pfn"), cell.get("fill"), want))
            check(int(cell.get("y")) >= map_top, "a cell above data-map-top")
        else:
            n = [int(x) for x in cell.get("data-n").split(",")]
            check(sum(n) == int(cell.get("data-blocks")) <= per_cell, "cell data-n/data-blocks")
            per_type = [a + b for a, b in zip(per_type, n)]
    check(per_type == counts.get(name), "%s: cells per type %s, pagetypeinfo %s" % (name, per_type, counts.get(name)))
check(drawn.keys() == counts.keys(), "zones drawn %s, pagetypeinfo %s" % (sorted(drawn), sorted(counts)))
for name, span in drawn.items():
    check(spans.get(name) == span, "%s: span %s, zoneinfo %s" % (name, span, spans.get(name)))

# Saturated colours are the type colours and their tints only: a tint of c
# lies on the line from white to c, at most half way to white.
def from_white(rgb):
    return [((rgb >> s) & 0xff) - 255 for s in (16, 8, 0)]

def tint_of(rgb, c):
    a, b = from_white(rgb), from_white(c)
    t = sum(x * y for x, y in zip(a, b)) / sum(y * y for y in b)
    return 0.49 <= t <= 1.0 and all(abs(x - t * y) <= 1.0 for x, y in zip(a, b))

for fill in set(re.findall(r'fill="#([0-9a-f]{6})"', svg_text)):
    rgb = int(fill, 16)
    channels = [(rgb >> s) & 0xff for s in (16, 8, 0)]
    if max(channels) - min(channels) < 16:
        continue  # white, grey, black
    check(any(tint_of(rgb, c) for c in COLOURS.values()),
          "fill #%s is no migrate type's colour or tint of it" % fill)

if base.endswith("big"):
    check(per_cell == 512, "4 TiB: %d pageblocks per cell, wanted 512" % per_cell)
    check("1 cell = 512 pageblocks (1 GiB)" in svg_text, "4 TiB: no ratio line")
    check(len(svg_text) < 2 << 20, "4 TiB: %d bytes" % len(svg_text))
else:
    check(per_cell == 1, "%d pageblocks per cell, wanted 1" % per_cell)
    check("1 cell = 1 pageblock (2 MiB)" in svg_text, "no ratio line")

for p in problems[:20]:
    print("  " + p)
sys.exit(1 if problems else 0)
EOF
done
