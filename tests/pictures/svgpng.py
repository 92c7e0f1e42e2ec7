#!/usr/bin/env python3
"""The picture tests' harness: check an SVG, render it in a real browser, and
count the pixels of each migrate type's colour.

    import svgpng
    width, height, root = svgpng.validate_svg("map.svg")     # SvgError if not
    svgpng.render_png("map.svg", "map.png")                  # headless Chromium
    counts = svgpng.classify("map.png")    # {"Unmovable": 1200, ..., "other": 3}

validate_svg parses the file with xml.etree and checks that the root is an
SVG 1.1 <svg> with integer width and height in px and a viewBox "0 0 W H" of
the same size.

render_png runs Debian's chromium headless with a throw-away HOME and
user-data-dir, in a session of its own, with a timeout; whatever it leaves
running is killed (its process group, then any process still naming the
throw-away directory), also when the render fails. The PNG must be exactly
W x H. No chromium: ChromiumMissing, which a test turns into a skip
(exit status SKIP, 77, for ctest's SKIP_RETURN_CODE).

classify sorts the PNG's pixels by hue into MIGRATE_COLOURS, allowing each
colour to be tinted toward white by up to 50 % (c + t (255 - c), t <= 0.5:
hue unchanged, chroma scaled by 1 - t). Unsaturated pixels (text, white,
greys, black; chroma below MIN_CHROMA) are ignored; saturated pixels of no
listed colour (other hues, darker shades, tints past 50 %) count as "other".

Run as a script: svgpng.py SVG [PNG] validates, renders and prints the counts.
Needs python3-pil (PIL) for classify and the PNG's size check.
"""
import colorsys
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SKIP = 77
SVG_NS = "{http://www.w3.org/2000/svg}"

# The migrate types' colours, as every memd picture draws them.
MIGRATE_COLOURS = {
    "Unmovable": "#d62728",
    "Movable": "#2ca02c",
    "Reclaimable": "#ff7f0e",
    "HighAtomic": "#9467bd",
    "Isolate": "#bcbd22",
    "CMA": "#17becf",
}
MAX_TINT = 0.5
MIN_CHROMA = 20  # max - min channel, of 255: below it a pixel is grey
HUE_TOLERANCE = 8.0  # degrees (the closest two colours above are 28 degrees apart)
CHANNEL_TOLERANCE = 6  # levels per channel between a pixel and the tint it matches
RENDER_TIMEOUT = 60  # seconds


class SvgError(Exception):
    """The file is not a well-formed SVG of the expected shape."""


class ChromiumMissing(Exception):
    """No chromium to render with: a reason to skip, not a failure."""


class RenderError(Exception):
    """chromium ran but gave no PNG of the SVG's size."""


def _px(value, what, path):
    m = re.fullmatch(r"\s*(\d+)(px)?\s*", value or "")
    if not m:
        raise SvgError(f"{path}: {what} is {value!r}, not a whole number of px")
    return int(m.group(1))


def validate_svg(path):
    """Returns (width, height, root element) of a well-formed SVG 1.1 file."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise SvgError(f"{path}: not well-formed XML: {e}") from e
    if root.tag != SVG_NS + "svg":
        raise SvgError(f"{path}: the root element is {root.tag}, not an SVG <svg>")
    if root.get("version") != "1.1":
        raise SvgError(f"{path}: version is {root.get('version')!r}, not '1.1'")
    width = _px(root.get("width"), "width", path)
    height = _px(root.get("height"), "height", path)
    if width <= 0 or height <= 0:
        raise SvgError(f"{path}: size {width}x{height}")
    try:
        view_box = [float(v) for v in (root.get("viewBox") or "").replace(",", " ").split()]
    except ValueError:
        view_box = None
    if view_box != [0, 0, width, height]:
        raise SvgError(f"{path}: viewBox is {root.get('viewBox')!r}, not '0 0 {width} {height}'")
    return width, height, root


def find_chromium():
    """The chromium binary, or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _kill_leftovers(pgid, marker):
    """Kills chromium's process group and any process still naming `marker`
    (its throw-away directory) on its command line: only what this render
    started."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def _chromium_command(chromium, svg_path, png_path, width, height, profile):
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--force-device-scale-factor=1", f"--window-size={width},{height}",
        f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
        "--disable-extensions", "--disable-background-networking",
        f"--screenshot={png_path}", "file://" + os.path.abspath(svg_path),
    ]


def render_png(svg_path, png_path, timeout=RENDER_TIMEOUT, tmp_prefix="memd-chromium-"):
    """Renders the SVG to a PNG of exactly its size with headless chromium;
    returns (width, height). Chromium's HOME and profile are a temporary
    directory named tmp_prefix..., removed afterwards."""
    width, height, _ = validate_svg(svg_path)
    chromium = find_chromium()
    if chromium is None:
        raise ChromiumMissing("chromium is not installed (apt-get install chromium)")
    home = tempfile.mkdtemp(prefix=tmp_prefix)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
    if os.path.exists(png_path):
        os.unlink(png_path)
    proc = subprocess.Popen(
        _chromium_command(chromium, svg_path, png_path, width, height, home + "/profile"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=env, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_leftovers(proc.pid, home)
        proc.communicate()
        raise RenderError(f"chromium did not finish rendering {svg_path} in {timeout} s")
    finally:
        _kill_leftovers(proc.pid, home)
        shutil.rmtree(home, ignore_errors=True)
    if proc.returncode != 0 or not os.path.exists(png_path):
        tail = output.decode(errors="replace").strip().splitlines()[-5:]
        raise RenderError(f"chromium exited {proc.returncode} without {png_path}: "
                          + " | ".join(tail))
    got = png_size(png_path)
    if got != (width, height):
        raise RenderError(f"{png_path} is {got[0]}x{got[1]}, the SVG {width}x{height}")
    return width, height


def png_size(png_path):
    from PIL import Image  # python3-pil
    with Image.open(png_path) as im:
        return im.size


def _rgb(hex_colour):
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def _hue(rgb):
    return colorsys.rgb_to_hsv(*(c / 255 for c in rgb))[0] * 360


def _match(pixel, colour):
    """Whether `pixel` is `colour` tinted toward white by 0 to MAX_TINT."""
    chroma = max(pixel) - min(pixel)
    full = max(colour) - min(colour)
    t = 1 - chroma / full
    if t < -0.05 or t > MAX_TINT + 0.03:
        return False
    d = abs(_hue(pixel) - _hue(colour))
    if min(d, 360 - d) > HUE_TOLERANCE:
        return False
    tinted = [c + max(t, 0) * (255 - c) for c in colour]
    return all(abs(p - q) <= CHANNEL_TOLERANCE for p, q in zip(pixel, tinted))


def classify_colour(pixel, palette=None):
    """The name of the palette's colour `pixel` is (tinted), None for an
    unsaturated pixel, "other" for a saturated one of no listed colour."""
    palette = palette or MIGRATE_COLOURS
    if max(pixel) - min(pixel) < MIN_CHROMA:
        return None
    for name, hex_colour in palette.items():
        if _match(pixel, _rgb(hex_colour)):
            return name
    return "other"


def classify(png_path, palette=None):
    """Pixel counts per colour name of the palette (every name present, 0 if
    absent) and "other"."""
    from PIL import Image  # python3-pil
    palette = palette or MIGRATE_COLOURS
    counts = dict.fromkeys(palette, 0)
    counts["other"] = 0
    with Image.open(png_path) as im:
        rgb = im.convert("RGB")
        colours = rgb.getcolors(maxcolors=rgb.width * rgb.height)
    for n, pixel in colours:
        name = classify_colour(pixel, palette)
        if name is not None:
            counts[name] += n
    return counts


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        print("usage: svgpng.py SVG [PNG]", file=sys.stderr)
        return 2
    svg = argv[1]
    png = argv[2] if len(argv) == 3 else os.path.splitext(svg)[0] + ".png"
    try:
        width, height = render_png(svg, png)
    except ChromiumMissing as e:
        print(f"svgpng: skipped: {e}", file=sys.stderr)
        return SKIP
    except (SvgError, RenderError) as e:
        print(f"svgpng: {e}", file=sys.stderr)
        return 1
    print(f"{png}: {width}x{height}")
    for name, n in classify(png).items():
        print(f"  {name:12} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
