#!/usr/bin/env python3
"""32 socket clients allocating and freeing thousands of blocks while 8
readers loop over the mount's files in small reads: no error, no torn file,
`check` passes at the end. Then readers keep going while a long replay runs.
usage: concurrency_test.py SOCKET MOUNT TRACE_SAMPLE [SCALE]"""
import gzip
import random
import re
import sys
import threading
import time

from memdclient import Conn, read_file

SOCK, MNT, SAMPLE = sys.argv[1], sys.argv[2], sys.argv[3]
SCALE = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
CLIENTS, READERS = 32, 8
ROUNDS = max(10, int(120 * SCALE))
FILES = ["buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo", "extfrag_index", "unusable_index"]
GFPS = ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_ATOMIC",
        "GFP_DMA32", "GFP_KERNEL|__GFP_ZERO"]
BUDDY_LINE = re.compile(r"^Node \d+, zone +\w+( +\d+){11} *$")

errors = []
done = threading.Event()
reads = [0] * READERS


def err(msg):
    errors.append(msg)


def check_consistent(name, text, lines_wanted):
    """A file read in many small pieces must be one snapshot: whole lines, the
    same number of them, and (zoneinfo) each zone's 'pages free' equal to its
    nr_free_pages, which the kernel prints twice from the same counter."""
    if not text.endswith("\n"):
        return f"{name} does not end with a newline"
    lines = text.split("\n")
    if lines_wanted is not None and len(lines) != lines_wanted:
        return f"{name}: {len(lines)} lines, expected {lines_wanted}"
    if name == "buddyinfo":
        for ln in lines[:-1]:
            if not BUDDY_LINE.match(ln):
                return f"buddyinfo line {ln!r}"
    if name == "zoneinfo":
        free = None
        for ln in lines:
            m = re.match(r"^  pages free +(\d+)$", ln)
            if m:
                free = int(m.group(1))
            m = re.match(r"^ +nr_free_pages (\d+)$", ln)
            if m and free is not None:
                if int(m.group(1)) != free:
                    return f"zoneinfo torn: pages free {free} but nr_free_pages {m.group(1)}"
                free = None
    return None


line_counts = {f: len(read_file(MNT, f, 1 << 20).split("\n")) for f in FILES}


def reader(i):
    rng = random.Random(i)
    n = 0
    try:
        while not done.is_set():
            name = FILES[n % len(FILES)]
            text = read_file(MNT, name, rng.choice([7, 17, 64, 333, 4096, 1 << 17]) if name != "zoneinfo" or n % 3 else 7)
            problem = check_consistent(name, text, line_counts[name])
            if problem:
                err(f"reader {i}: {problem}")
                return
            n += 1
            reads[i] = n
    except Exception as e:  # noqa: BLE001
        err(f"reader {i}: {e!r}")


def client(i):
    rng = random.Random(1000 + i)
    try:
        c = Conn(SOCK)
        live = []  # (id, pfn)
        for _ in range(ROUNDS):
            cmd = f"alloc order={rng.randrange(4)} gfp={rng.choice(GFPS)} cpu={rng.randrange(2)} count={rng.randrange(1, 9)}"
            r = c.cmd(cmd)
            if not r["ok"]:
                err(f"client {i}: {cmd} -> {r}")
                return
            live += [(a["id"], a["pfn"]) for a in r["allocations"]]
            rng.shuffle(live)
            k = rng.randrange(len(live) + 1)
            victims, live = live[:k], live[k:]
            if victims:
                targets = " ".join(f"id={v[0]}" if rng.random() < 0.5 else f"pfn={v[1]}" for v in victims)
                r = c.cmd(f"free {targets} cpu={rng.randrange(2)}")
                if not r["ok"] or r["count"] != len(victims):
                    err(f"client {i}: free {targets} -> {r}")
                    return
        if live:
            r = c.cmd("free " + " ".join(f"id={v[0]}" for v in live))
            if not r["ok"]:
                err(f"client {i}: final free -> {r}")
        c.close()
    except Exception as e:  # noqa: BLE001
        err(f"client {i}: {e!r}")


t0 = time.time()
readers = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
clients = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
for t in readers + clients:
    t.start()
for t in clients:
    t.join()
done.set()
for t in readers:
    t.join()
assert not errors, "\n".join(errors[:10])
c = Conn(SOCK)
st = c.ok("status")
assert st["live_allocations"] == 0, st
assert c.ok("check") == {"ok": True, "problems": []}
print(f"stress: {CLIENTS} clients x {ROUNDS} rounds, {sum(reads)} file reads by {READERS} readers, "
      f"{time.time() - t0:.1f} s; check ok")

# A long replay must not freeze the readers: it applies its trace in batches.
with gzip.open(SAMPLE, "rb") as f:
    trace = f.read()
repeats = max(1, int(4 * SCALE))
r = Conn(SOCK, timeout=600)
r.ok("replay begin")
latencies = []
done.clear()


def timed_reader():
    while not done.is_set():
        t = time.monotonic()
        read_file(MNT, "buddyinfo", 4096)
        latencies.append(time.monotonic() - t)


tr = threading.Thread(target=timed_reader)
tr.start()
t0 = time.monotonic()
for _ in range(repeats):
    r.send_raw(b"replay data bytes=%d\n" % len(trace) + trace)
    assert r.reply()["ok"]
report = r.ok("replay end")["report"]
replay_s = time.monotonic() - t0
done.set()
tr.join()
worst = max(latencies)
print(f"replay: {report['lines']} lines in {replay_s:.2f} s; {len(latencies)} reads of buddyinfo meanwhile, "
      f"slowest {worst * 1000:.1f} ms")
assert report["lines"] == repeats * trace.count(b"\n"), report["lines"]
assert len(latencies) >= 5, "the readers were frozen during the replay"
assert worst < max(0.25, replay_s / 4), f"a read waited {worst:.3f} s behind the replay"
assert c.ok("check") == {"ok": True, "problems": []}
print("concurrency_test.py: all checks passed")
