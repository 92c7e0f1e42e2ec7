#!/usr/bin/env python3
"""Checks for a replay's history (memctl replay --history, memd --history),
made without memd's code: the trace's events counted with regular
expressions, the kernel's files parsed as a monitoring tool would.

  history_check.py count TRACE                  the trace's event lines
  history_check.py cut TRACE K OUT              OUT: TRACE up to its K-th event line
  history_check.py split TRACE N OUT            OUT.1 .. OUT.N: TRACE cut at line boundaries
                                                (not at multiples of 1000 lines)
  history_check.py rows HISTORY K PRINTED REPORT
      the rows at event K equal the files in PRINTED (memd --print
      buddyinfo,pagetypeinfo,unusable_index,zoneinfo after replaying the
      first K events), and their extfrag and failure columns add up to the
      report in REPORT (memd --replay's stderr)
  history_check.py parts WHOLE PART...
      the histories of a replay in parts (--continue) go on where the one
      before ended, and each row at a multiple of the interval is the
      whole replay's
"""
import gzip
import re
import sys

HEADER = ("event,node,zone,free_pages,free_0,free_1,free_2,free_3,free_4,free_5,free_6,free_7,"
          "free_8,free_9,free_10,unmovable,movable,reclaimable,highatomic,isolate,unusable_9,"
          "unusable_10,extfrag_claims,extfrag_steals,alloc_failures")

# An ftrace line: "<task>-<pid> [CPU] <flags> <secs>.<frac>: <event>: <fields>".
HEAD = r"^\s*.+-\d+\s+\[\d+\]\s+(?:[\w.]+\s+)?\d+(?:\.\d+)?: "
PFN = r"pfn=0x[0-9a-fA-F]{1,16}"
EVENT = re.compile(HEAD + r"(?:"
                   r"mm_page_alloc: page=\S+ " + PFN +
                   r" order=\d+ migratetype=-?\d+ gfp_flags=\S+"
                   r"|mm_page_free: page=\S+ " + PFN + r" order=\d+"
                   r"|mm_page_free_batched: page=\S+ " + PFN + r" order=\d+"
                   r")\s*$")


def lines_of(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="latin-1", newline="") as f:
        for line in f:
            yield line


def is_event(line):
    return EVENT.match(line.rstrip("\r\n")) is not None


def count(path):
    print(sum(1 for line in lines_of(path) if is_event(line)))


def cut(path, k, out):
    k = int(k)
    seen = 0
    with open(out, "w", encoding="latin-1", newline="") as f:
        for line in lines_of(path):
            if seen == k:
                break
            f.write(line)
            seen += is_event(line)
    if seen != k:
        sys.exit(f"{path} has {seen} events, fewer than {k}")


def split(path, n, out):
    # Parts a little longer than an n-th, so that the cuts fall between two
    # rows of a history every 1000 events (300000 lines in 3: 100007, 100007, 99986).
    lines = list(lines_of(path))
    n = int(n)
    size = (len(lines) + n - 1) // n + 7
    for i in range(n):
        with open(f"{out}.{i + 1}", "w", encoding="latin-1", newline="") as f:
            f.writelines(lines[i * size:(i + 1) * size])


def printed_files(path):
    """memd --print A,B,...: {name: text}, split at the '==> NAME <==' lines."""
    files, name = {}, None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^==> (\S+) <==$", line.rstrip("\n"))
        if m:
            name = m.group(1)
            files[name] = []
        elif name is not None:
            files[name].append(line.rstrip("\n"))
    return files


ZONE = re.compile(r"^Node (\d+), zone\s+(\S+)\s+(.*)$")


def expected_rows(k, files):
    """The first 22 columns of each zone's row, from the files themselves."""
    zones = {}
    order = []
    for line in files["buddyinfo"]:
        m = ZONE.match(line)
        if m:
            key = (m.group(1), m.group(2))
            order.append(key)
            zones[key] = {"free": m.group(3).split()}
    blocks = False
    for line in files["pagetypeinfo"]:
        if line.startswith("Number of blocks type"):
            blocks = True
            continue
        m = ZONE.match(line)
        if blocks and m:
            zones[(m.group(1), m.group(2))]["blocks"] = m.group(3).split()
    for line in files["unusable_index"]:
        m = ZONE.match(line)
        if m:
            zones[(m.group(1), m.group(2))]["unusable"] = m.group(3).split()
    current = None
    for line in files["zoneinfo"]:
        m = re.match(r"^Node (\d+), zone\s+(\S+)$", line)
        if m:
            current = (m.group(1), m.group(2))
        m = re.match(r"^  pages free\s+(\d+)$", line)
        if m and current in zones:
            zones[current]["pages_free"] = m.group(1)
    rows = []
    for key in order:
        z = zones[key]
        assert len(z["free"]) == 11 and len(z["blocks"]) == 5 and len(z["unusable"]) == 11, z
        rows.append(",".join([str(k), key[0], key[1], z["pages_free"]] + z["free"] + z["blocks"] +
                             z["unusable"][9:11]))
    return rows


def report_counters(path):
    counters = {}
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^  (\w+)\s+(\d+)$", line)
        if m:
            counters[m.group(1)] = int(m.group(2))
    return counters


def history(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    assert lines[0] == HEADER, f"{path}: header {lines[0]!r}"
    assert lines[-1] == "", f"{path} does not end with a newline"
    return [line.split(",") for line in lines[1:-1]]


def rows(path, k, printed, report):
    at_k = [r for r in history(path) if r[0] == k]
    want = expected_rows(k, printed_files(printed))
    got = [",".join(r[:22]) for r in at_k]
    if got != want:
        sys.exit(f"rows at event {k}:\n  " + "\n  ".join(got) + "\nthe files say:\n  " +
                 "\n  ".join(want))
    counters = report_counters(report)
    if counters.get("events") != int(k):
        sys.exit(f"the prefix replayed {counters.get('events')} events, not {k}")
    claims = sum(int(r[22]) for r in at_k)
    steals = sum(int(r[23]) for r in at_k)
    failures = {int(r[24]) for r in at_k}
    if (claims, steals) != (counters["emulator_extfrag_claims"],
                            counters["emulator_extfrag_steals"]):
        sys.exit(f"rows at {k}: {claims} claims and {steals} steals, the report "
                 f"{counters['emulator_extfrag_claims']} and {counters['emulator_extfrag_steals']}")
    if failures != {counters["failed_allocs"]}:
        sys.exit(f"rows at {k}: alloc_failures {failures}, the report {counters['failed_allocs']}")
    print(f"event {k}: {len(at_k)} rows agree with the files, {claims} claims")


def parts(whole, *paths):
    by_event = {}
    for r in history(whole):
        by_event.setdefault(int(r[0]), []).append(r)
    every = sorted(by_event)[1]
    last = 0
    checked = 0
    for p in paths:
        h = history(p)
        first = int(h[0][0])
        if first != last:
            sys.exit(f"{p} starts at event {first}, the part before ended at {last}")
        for r in h:
            e = int(r[0])
            if e % every == 0:
                if r not in by_event[e]:
                    sys.exit(f"{p}: {','.join(r)} is not the whole replay's row")
                checked += 1
        last = int(h[-1][0])
    if last != max(by_event):
        sys.exit(f"the parts end at event {last}, the whole at {max(by_event)}")
    print(f"{checked} rows of the parts are the whole replay's; the parts end at {last}")


if __name__ == "__main__":
    commands = {"count": count, "cut": cut, "split": split, "rows": rows, "parts": parts}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
