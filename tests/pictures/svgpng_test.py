#!/usr/bin/env python3
"""The harness itself (svgpng.py): SVGs it must refuse; a hand-written SVG of
rectangles in known colours, tints and greys, rendered by chromium, whose
pixel counts per colour are known exactly; chromium leaving nothing behind,
also when it is killed by the timeout.

usage: svgpng_test.py            exit 0 passed, 1 failed, 77 skipped (no chromium or PIL)
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svgpng  # noqa: E402

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def tint(hex_colour, t):
    """hex_colour mixed with white: c + t (255 - c), rounded."""
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + t * (255 - c)):02x}" for c in rgb)


C = svgpng.MIGRATE_COLOURS
# (x, y, w, h, fill, the name it counts as, or None when ignored)
RECTS = [
    (10, 10, 10, 10, C["Unmovable"], "Unmovable"),              # 100
    (30, 10, 12, 10, tint(C["Movable"], 0.5), "Movable"),       # 120, the most tinted allowed
    (50, 10, 7, 10, tint(C["Reclaimable"], 0.25), "Reclaimable"),  # 70
    (70, 10, 5, 6, tint(C["HighAtomic"], 0.5), "HighAtomic"),   # 30, the least saturated colour
    (90, 10, 9, 9, C["Isolate"], "Isolate"),                    # 81
    (110, 10, 4, 11, C["CMA"], "CMA"),                          # 44
    (130, 10, 13, 3, C["Unmovable"], "Unmovable"),              # 39 more: 139 in all
    (10, 40, 20, 20, "#808080", None),                          # grey
    (40, 40, 10, 10, "#000000", None),                          # black
    (60, 40, 10, 10, "#f4f4f4", None),                          # near white
    (80, 40, 10, 10, "#3a3a40", None),                          # dark, barely blue: text colour
    (100, 40, 8, 8, "#1f77b4", "other"),                        # 64: a blue of no migrate type
    (120, 40, 6, 5, tint(C["Movable"], 0.7), "other"),          # 30: tinted past 50 %
    (140, 40, 5, 5, "#6b1414", "other"),                        # 25: Unmovable's hue, darkened
]
WIDTH, HEIGHT = 200, 80


def expected_counts():
    counts = dict.fromkeys(C, 0)
    counts["other"] = 0
    for x, y, w, h, fill, name in RECTS:
        if name:
            counts[name] += w * h
    return counts


def write_svg(path):
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{WIDTH}" '
                f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">\n'
                f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>\n')
        for x, y, w, h, fill, _ in RECTS:
            f.write(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"/>\n')
        f.write("</svg>\n")


BAD_SVGS = {
    "not XML": "<svg",
    "not svg": '<html xmlns="http://www.w3.org/1999/xhtml"/>',
    "no namespace": '<svg version="1.1" width="10" height="10" viewBox="0 0 10 10"/>',
    "no version": '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
                  'viewBox="0 0 10 10"/>',
    "width in cm": '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="10cm" '
                   'height="10" viewBox="0 0 10 10"/>',
    "no viewBox": '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="10" '
                  'height="10"/>',
    "viewBox of another size": '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
                               'width="10" height="10" viewBox="0 0 20 10"/>',
}


def test_validate(tmp):
    for what, text in BAD_SVGS.items():
        path = os.path.join(tmp, "bad.svg")
        with open(path, "w") as f:
            f.write(text)
        try:
            svgpng.validate_svg(path)
            check(False, f"validate_svg accepted an SVG with {what}")
        except svgpng.SvgError as e:
            check(path in str(e), f"the error for {what} names the file: {e}")
    good = os.path.join(tmp, "rects.svg")
    write_svg(good)
    width, height, root = svgpng.validate_svg(good)
    check((width, height) == (WIDTH, HEIGHT), f"validate_svg: {width}x{height}")


def processes_naming(marker):
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def test_render(tmp):
    svg, png = os.path.join(tmp, "rects.svg"), os.path.join(tmp, "rects.png")
    prefix = f"memd-svgpng-test-{os.getpid()}-"
    size = svgpng.render_png(svg, png, tmp_prefix=prefix)
    check(size == (WIDTH, HEIGHT) and svgpng.png_size(png) == (WIDTH, HEIGHT),
          f"the PNG is {svgpng.png_size(png)}, not {WIDTH}x{HEIGHT}")
    got, want = svgpng.classify(png), expected_counts()
    check(got == want, f"pixel counts {got}, expected {want}")
    check(not processes_naming(prefix), f"chromium left processes: {processes_naming(prefix)}")
    check(not [d for d in os.listdir(tempfile.gettempdir()) if d.startswith(prefix)],
          "the temporary HOME was not removed")
    # Killed by the timeout: an error, and nothing left behind.
    try:
        svgpng.render_png(svg, png, timeout=0.05, tmp_prefix=prefix)
        check(False, "a render with a 0.05 s timeout succeeded")
    except svgpng.RenderError as e:
        check("did not finish" in str(e), f"the timeout's message: {e}")
    check(not processes_naming(prefix), f"after a timeout, chromium left {processes_naming(prefix)}")
    check(not os.path.exists(png), "a timed-out render left a PNG")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_validate(tmp)
        try:
            import PIL  # noqa: F401
        except ImportError:
            print("svgpng_test: skipped: python3-pil is not installed", file=sys.stderr)
            return svgpng.SKIP if not FAILURES else 1
        if svgpng.find_chromium() is None:
            print("svgpng_test: skipped: chromium is not installed", file=sys.stderr)
            return svgpng.SKIP if not FAILURES else 1
        test_render(tmp)
    print("svgpng_test: " + ("FAILED" if FAILURES else "passed"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
