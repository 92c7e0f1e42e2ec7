#!/usr/bin/env python3
"""The socket's JSON for every verb (product.md shapes), bad input, oversized
lines, the streaming replay protocol, and many clients at once.
usage: socket_test.py SOCKET MOUNT TRACE_SAMPLE"""
import gzip
import os
import socket
import sys
import threading
import time

from memdclient import Conn

SOCK, MNT, SAMPLE = sys.argv[1], sys.argv[2], sys.argv[3]


def read(name):
    with open(os.path.join(MNT, name)) as f:
        return f.read()


c = Conn(SOCK)

# alloc: exactly the shape of product.md.
r = c.ok("alloc order=3 gfp=GFP_HIGHUSER_MOVABLE")
assert list(r) == ["ok", "allocations"], r
a = r["allocations"][0]
assert list(a) == ["id", "pfn", "order", "zone", "node", "migratetype"], a
assert isinstance(a["id"], int) and a["pfn"].startswith("0x") and a["order"] == 3, a
assert a["zone"] == "Normal" and a["node"] == 0 and a["migratetype"] == "Movable", a
r = c.ok("alloc order=0 gfp=GFP_KERNEL count=10 cpu=1")
assert len(r["allocations"]) == 10 and len({x["id"] for x in r["allocations"]}) == 10

# A failed allocation: the warn_alloc line; with count, the ones made.
r = c.cmd("alloc order=10 gfp=GFP_KERNEL|__GFP_NORETRY count=100000")
assert r["ok"] is False, r
assert r["error"] == "page allocation failure: order:10, mode:0x10cc0(GFP_KERNEL|__GFP_NORETRY), nodemask=(null)", r["error"]
assert len(r["allocations"]) > 100, len(r["allocations"])
made = r["allocations"]
r = c.cmd("alloc order=10 gfp=GFP_KERNEL|__GFP_NORETRY")
assert r == {"ok": False, "error": "page allocation failure: order:10, mode:0x10cc0(GFP_KERNEL|__GFP_NORETRY), nodemask=(null)",
             "failure": "alloc_failed"}, r

# free by pfn, by id, several at once, all-or-nothing.
before = read("buddyinfo")
c.error(f"free pfn={made[0]['pfn']} pfn=0x3", "pfn=0x3: not the first page of a live allocation")
c.error(f"free id={made[0]['id']} pfn={made[0]['pfn']}", "named twice")
assert read("buddyinfo") == before, "a refused free changed buddyinfo"
r = c.ok(f"free pfn={made[0]['pfn']} id={made[1]['id']} cpu=1")
assert r["count"] == 2 and [x["id"] for x in r["freed"]] == [made[0]["id"], made[1]["id"]], r
c.error(f"free pfn={made[0]['pfn']}", "not the first page")
r = c.ok("free all")
assert r["count"] == 11 + len(made) - 2, r
assert c.ok("status")["live_allocations"] == 0

# sysctl
r = c.ok("sysctl")["sysctl"]
assert set(r) == {"min_free_kbytes", "watermark_scale_factor", "watermark_boost_factor",
                  "lowmem_reserve_ratio", "percpu_pagelist_high_fraction"}, r
assert isinstance(r["lowmem_reserve_ratio"], list)
assert c.ok("sysctl min_free_kbytes=20000") == {"ok": True, "sysctl": {"min_free_kbytes": 20000}}
assert c.ok("sysctl vm.min_free_kbytes") == {"ok": True, "sysctl": {"min_free_kbytes": 20000}}
c.error("sysctl min_free_kbytes=-5", "min_free_kbytes")
c.error("sysctl bogus", "unknown sysctl 'bogus'")

# show: the file exactly as the mount serves it.
for name in ["buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo", "extfrag_index", "unusable_index"]:
    r = c.ok(f"show {name}")
    assert list(r) == ["ok", "text"] and r["text"] == read(name), name
c.error("show nothing", "unknown file 'nothing'")

# status, check, help, reset
st = c.ok("status")
assert st["machine"]["arch"] == "x86_64" and st["machine"]["nodes"] == 1 and st["machine"]["cpus"] == 2, st
assert c.ok("check") == {"ok": True, "problems": []}
assert "alloc order=N" in c.ok("help")["text"]
c.ok("alloc order=5 gfp=GFP_KERNEL count=3")
assert "x86_64" in c.ok("reset")["machine"]
assert c.ok("status")["live_allocations"] == 0
assert c.ok("sysctl min_free_kbytes")["sysctl"]["min_free_kbytes"] != 20000, "reset kept a sysctl"

# Bad input: errors that name the key or value; the machine untouched.
before = read("buddyinfo")
for line, want in [("alloc order=99 gfp=GFP_KERNEL", "order=99"),
                   ("alloc order=1 gfp=GFP_KERNEL node=5", "node=5"),
                   ("alloc order=1 gfp=__GFP_DMA|__GFP_DMA32", "GFP_ZONE_BAD"),
                   ("alloc order=1 gfp=GFP_KERNEL size=3", "unknown key 'size'"),
                   ("alloc order=1 gfp=GFP_KERNEL count=abc", "count=abc: not a number"),
                   ("dance", "unknown command 'dance'"),
                   ("", "empty command"),
                   ("free", "nothing to free"),
                   ("replay end", "no replay running")]:
    r = c.cmd(line)
    assert list(r) == ["ok", "error", "failure"] and r["ok"] is False and want in r["error"], (line, r)
    assert r["failure"] == "bad_input", (line, r)
c.send_raw(b"\xff\xfe\x00garbage\n")
assert c.reply()["ok"] is False
assert read("buddyinfo") == before, "bad input changed buddyinfo"

# Several commands in one write: one reply each, in order.
c.send_raw(b"alloc order=0 gfp=GFP_KERNEL\nstatus\nfree all\n")
assert c.reply()["allocations"][0]["order"] == 0
assert c.reply()["live_allocations"] == 1
assert c.reply()["count"] == 1

# An oversized line: an error, then memd drops the connection; others carry on.
big = Conn(SOCK)
big.send_raw(b"alloc " + b"x" * 70000 + b"\n")
r = big.reply()
assert r["ok"] is False and "longer than 65536 bytes" in r["error"], r
assert big.closed(), "memd kept a connection after an oversized line"
# A client that disconnects mid-line or mid-reply does no harm.
for _ in range(20):
    s = socket.socket(socket.AF_UNIX)
    s.connect(SOCK)
    s.sendall(b"alloc order=0 gfp=GFP_KER")
    s.close()
assert c.ok("status")["live_allocations"] == 0

# Streaming replay: begin, data frames of any cut, end with the report.
with gzip.open(SAMPLE, "rb") as f:
    trace = b"".join(f.readline() for _ in range(20000))
nlines = trace.count(b"\n")
r1 = Conn(SOCK)
assert r1.ok("replay begin") == {"ok": True}
other = Conn(SOCK)
other.error("replay begin", "another replay is running")
frames = [trace[:1000], trace[1000:1001], trace[1001:500000], trace[500000:]]
total = 0
for fr in frames:
    r1.send_raw(b"replay data bytes=%d\n" % len(fr) + fr)
    r = r1.reply()
    total = r["lines"]
    assert list(r) == ["ok", "lines"] and r["ok"] is True, r
assert total == nlines, (total, nlines)
r = r1.ok("replay end")
assert list(r) == ["ok", "report"], r
rep = r["report"]
assert rep["lines"] == nlines and isinstance(rep["malformed"], list), rep
assert all(isinstance(v, int) for k, v in rep.items() if k != "malformed"), rep
r1.error("replay end", "no replay running")
# Frames may be empty; a frame is applied only when complete: a client that
# goes away mid-frame leaves nothing of it.
assert other.ok("replay begin") == {"ok": True}
assert other.ok("replay data bytes=0")["lines"] == 0
before = read("buddyinfo")
live = c.ok("status")["live_allocations"]
other.send_raw(b"replay data bytes=100000\n" + trace[:60000])
other.close()
# memd notices the disconnect asynchronously; then the replay slot is free again.
deadline = time.monotonic() + 10
while (r := r1.cmd("replay begin")) != {"ok": True}:
    assert "another replay is running" in r["error"] and time.monotonic() < deadline, r
    time.sleep(0.01)
assert read("buddyinfo") == before and c.ok("status")["live_allocations"] == live, "a partial frame was applied"
r = r1.ok("replay abort")
assert r["lines"] == 0 and r["aborted"] is True, r
assert r["report"]["lines"] == 0 and r["report"]["malformed"] == [], r
# An abort reports what was applied; a trailing partial line is dropped.
assert r1.ok("replay begin") == {"ok": True}
frame = trace[:trace.index(b"\n", 20000) + 1] + b"  bash-1 [000] .... 1.0: mm_page_al"
r1.send_raw(b"replay data bytes=%d\n" % len(frame) + frame)
full_lines = frame.count(b"\n")
assert r1.reply()["lines"] == full_lines
r = r1.ok("replay abort")
assert r["aborted"] is True and r["lines"] == full_lines and r["report"]["lines"] == full_lines, r
c.ok("free all")
# A bad data line cannot be resynchronised: error, then the connection is dropped.
bad = Conn(SOCK)
bad.send_raw(b"replay data bytes=lots\n")
r = bad.reply()
assert r["ok"] is False and "bytes=lots" in r["error"], r
assert bad.closed()
# However it is spelled (the parser's blanks), a bad data line drops the
# connection; a line that only starts like one (`replay database`) does not.
for line in (b"replay  data bytes=70000000\n", b" replay\tdata bytes=x\n", b'"replay" data bytes=-1\n',
             b"snapshot  load bytes=lots\n"):
    bad = Conn(SOCK)
    bad.send_raw(line + b"reset\n")
    r = bad.reply()
    assert r["ok"] is False and "closing the connection" in r["error"], (line, r)
    assert bad.closed(), line
r = Conn(SOCK).cmd("replay database")
assert r["ok"] is False and "closing" not in r["error"], r
# A replay ended by a reset leaves its client's session stale: its next frame
# is skipped unbuffered and refused, the connection stays in sync.
assert r1.ok("replay begin") == {"ok": True}
c.ok("reset")
r1.send_raw(b"replay data bytes=3000000\n" + b"x" * 3000000 + b"status\n")
r = r1.reply()
assert r["ok"] is False and "the replay ended when the machine was reset" in r["error"], r
assert r1.reply()["ok"] is True
r1.error("replay data bytes=0", "no replay running")
# replay data without begin: the bytes are consumed and refused.
r2 = Conn(SOCK)
r2.send_raw(b"replay data bytes=5\nhello")
r = r2.reply()
assert r["ok"] is False and "no replay running" in r["error"], r
# ... however large: skipped without being buffered, and the connection stays in sync.
r2.send_raw(b"replay data bytes=3000000\n" + b"x" * 3000000 + b"status\n")
r = r2.reply()
assert r["ok"] is False and "no replay running" in r["error"], r
assert r2.reply()["ok"] is True
# replay file= from root over the socket.
r = r2.ok(f"replay file={SAMPLE}")
assert r["report"]["lines"] == 300000, r["report"]["lines"]

# Many clients at once.
errors = []


def client(i):
    try:
        k = Conn(SOCK)
        k.ok("status")
        a = k.ok(f"alloc order={i % 4} gfp=GFP_KERNEL cpu={i % 2}")["allocations"][0]
        k.ok(f"free id={a['id']}")
        k.close()
    except Exception as e:  # noqa: BLE001
        errors.append(repr(e))


threads = [threading.Thread(target=client, args=(i,)) for i in range(500)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not errors, errors[:5]
assert c.ok("check") == {"ok": True, "problems": []}
print("socket_test.py: all checks passed")
