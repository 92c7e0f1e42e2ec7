"""The tracepoints through a real memd (trace_test.sh starts it): trace_pipe's
consuming and non-blocking reads, lost events, and the round trip of a random
workload through `memctl replay`.

usage: trace_test.py SOCKET MOUNT MEMCTL WORKDIR
"""
import errno
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memdclient import Conn  # noqa: E402

SOCK, MNT, MEMCTL, W = sys.argv[1:5]


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


def drain_pipe():
    """Everything trace_pipe has now, read with O_NONBLOCK until EAGAIN."""
    fd = os.open(MNT + "/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    raise
                break
            if not chunk:
                fail("trace_pipe read returned end of file")
            out += chunk
    finally:
        os.close(fd)
    return out.decode()


def read(name):
    with open(MNT + "/" + name) as f:
        return f.read()


c = Conn(SOCK)

# An empty pipe read with O_NONBLOCK: EAGAIN at once.
c.ok("trace off")
c.ok("trace clear")
if drain_pipe() != "":
    fail("an empty trace_pipe gave bytes")

# Lost events, the kernel's way: 1 KiB makes 2 pages of 4080 bytes; an
# mm_page_alloc takes 44 of them, 92 to a page. After 2000 events the buffer
# holds the 22nd page (68 events) and the 21st (92): 160; 1840 are lost.
c.ok("trace buffer_size_kb=1")
c.ok("trace on mm_page_alloc")
c.ok("alloc order=0 gfp=GFP_HIGHUSER_MOVABLE count=2000")
r = c.ok("trace")["trace"]
if (r["entries"], r["overrun"], r["buffer_size_kb"]) != (160, 1840, 7):
    fail("after 2000 events in 1 KiB: %r" % r)
text = drain_pipe()
lines = text.splitlines()
if lines[0] != "CPU:0 [LOST 1840 EVENTS]" or len(lines) != 161:
    fail("lost events: first line %r, %d lines" % (lines[0], len(lines)))
if c.ok("trace")["trace"]["entries"] != 0:
    fail("trace_pipe did not consume")
c.ok("free all")

# The round trip: a random workload with mm_page_alloc and mm_page_free on,
# its trace replayed by memctl on the machine reset: the same files.
c.ok("trace off")
c.ok("trace buffer_size_kb=8192")
c.ok("trace on mm_page_alloc,mm_page_free")
r = c.ok("reset")  # a fresh machine, as the replay's will be; the trace settings stay
r = c.ok("trace")["trace"]
if (r["events"], r["buffer_size_kb"], r["entries"]) != (["mm_page_alloc", "mm_page_free"], 8195, 0):
    fail("after reset: %r" % r)
rng = random.Random(11)
live = []
gfps = ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_DMA32",
        "GFP_ATOMIC"]
trace = ""
for step in range(4000):
    if live and rng.random() < 0.4:
        pfn = live.pop(rng.randrange(len(live)))
        c.ok("free pfn=%s cpu=%d" % (pfn, rng.randrange(2)))
    else:
        order = rng.randrange(11) if rng.random() < 0.2 else 0
        r = c.cmd("alloc order=%d gfp=%s|__GFP_NOWARN cpu=%d" %
                  (order, rng.choice(gfps), rng.randrange(2)))
        if not r["ok"]:
            fail("the workload must not fail an allocation: %r" % r)
        live.append(r["allocations"][0]["pfn"])
    if step % 500 == 0:
        trace += drain_pipe()  # a reader draining as it goes: nothing lost
trace += drain_pipe()
if c.ok("trace")["trace"]["overrun"] != 0:
    fail("the round trip's trace lost events")
before = {f: read(f) for f in ("buddyinfo", "pagetypeinfo", "zoneinfo")}
c.ok("trace off")
c.ok("reset")
with open(W + "/workload.trace", "w") as f:
    f.write(trace)
out = subprocess.run([MEMCTL, "--socket", SOCK, "--json", "replay", W + "/workload.trace"],
                     capture_output=True, text=True)
if out.returncode != 0:
    fail("memctl replay: %s %s" % (out.stdout, out.stderr))
for name, text in before.items():
    if read(name) != text:
        fail(name + " differs after the round trip")
c.close()
print("trace_test.py: ok")
