#!/usr/bin/env python3
"""Helpers of fault_test.sh.

workload SOCKET MOUNT TRACE SEED
    Socket clients allocating and freeing, a client streaming a replay,
    control file writers and mount readers, all at once, until memd goes away
    (fault_test.sh kills it at a random moment). Every thread must then stop
    by itself: a connection reset, an EOF or ENOTCONN from the dead mount, never
    a hang. Before that, every reply must be right. Prints a JSON summary;
    exits 1 if a reply was wrong.

stream SOCKET TRACE FRAMES PARTIAL
    Streams a replay: `replay begin`, FRAMES whole frames (each acknowledged),
    then the line of one more frame and only PARTIAL of its bytes (PARTIAL < 0:
    all of them, without waiting for the reply). Prints "ready" and waits to be
    killed.

replay-kill SOCKET MOUNT TRACE
    A streaming client killed (SIGKILL) mid-frame and after a whole frame:
    the replay slot frees and the replay is rolled back (the same files as
    before it began, although five frames changed them); other clients
    allocating meanwhile see no error.
"""
import errno
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from memdclient import Conn

GONE = (ConnectionError, EOFError, BrokenPipeError, TimeoutError)
GONE_ERRNOS = {errno.ENOTCONN, errno.ECONNABORTED, errno.ECONNREFUSED, errno.ENOENT,
               errno.ECONNRESET, errno.EPIPE}


def trace_frames(path, nlines, nframes):
    with gzip.open(path, "rb") as f:
        text = b"".join(f.readline() for _ in range(nlines))
    rng = random.Random(nlines)
    cuts = sorted(rng.randrange(len(text)) for _ in range(nframes - 1))
    return [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]


# --- workload ----------------------------------------------------------------------------------


def workload(sock, mnt, trace, seed):
    errors, ops, gone = [], [0], []
    stop = threading.Event()

    def ended(who, e):
        if isinstance(e, GONE) or (isinstance(e, OSError) and e.errno in GONE_ERRNOS):
            gone.append(who)
        else:
            errors.append(f"{who}: {e!r}")

    def allocator(i):
        rng = random.Random(seed * 100 + i)
        try:
            c = Conn(sock, timeout=30)
            mine = []
            while not stop.is_set():
                r = c.cmd(f"alloc order={rng.randrange(4)} gfp=GFP_KERNEL cpu={rng.randrange(2)} "
                          f"count={rng.randrange(1, 6)}")
                if not r["ok"]:
                    errors.append(f"allocator {i}: {r}")
                    return
                mine += [a["id"] for a in r["allocations"]]
                rng.shuffle(mine)
                k = rng.randrange(len(mine) + 1)
                if k:
                    r = c.cmd("free " + " ".join(f"id={x}" for x in mine[:k]))
                    if not r["ok"] or r["count"] != k:
                        errors.append(f"allocator {i}: free -> {r}")
                        return
                    del mine[:k]
                ops[0] += 2
        except Exception as e:  # noqa: BLE001
            ended(f"allocator {i}", e)

    def streamer():
        frames = trace_frames(trace, 20000, 40)
        try:
            c = Conn(sock, timeout=30)
            while not stop.is_set():
                r = c.cmd("replay begin")
                if not r["ok"]:
                    errors.append(f"streamer: {r}")
                    return
                for fr in frames:
                    c.send_raw(b"replay data bytes=%d\n" % len(fr) + fr)
                    if not c.reply()["ok"]:
                        errors.append("streamer: a frame was refused")
                        return
                r = c.cmd("replay end" if ops[0] % 2 else "replay abort")
                if not r["ok"]:
                    errors.append(f"streamer: {r}")
                    return
                ops[0] += 1
        except Exception as e:  # noqa: BLE001
            ended("streamer", e)

    def writer():
        try:
            while not stop.is_set():
                with open(os.path.join(mnt, "control"), "w") as f:
                    f.write("alloc order=0 gfp=GFP_KERNEL cpu=1\n")
                with open(os.path.join(mnt, "control"), "w") as f:
                    f.write("status\n")
                ops[0] += 2
        except Exception as e:  # noqa: BLE001
            ended("control writer", e)

    def reader(i):
        names = ["buddyinfo", "zoneinfo", "pagetypeinfo", "vmstat", "meminfo"]
        try:
            n = 0
            while not stop.is_set():
                with open(os.path.join(mnt, names[n % len(names)]), "rb") as f:
                    while f.read(257):
                        pass
                n += 1
                ops[0] += 1
        except Exception as e:  # noqa: BLE001
            ended(f"reader {i}", e)

    threads = [threading.Thread(target=allocator, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=streamer), threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"ops": ops[0], "gone": sorted(gone), "errors": errors[:10]}))
    sys.exit(1 if errors else 0)


# --- a streaming client to be killed -----------------------------------------------------------


def stream(sock, trace, nframes, partial):
    frames = trace_frames(trace, 30000, 12)
    c = Conn(sock)
    assert c.cmd("replay begin") == {"ok": True}
    for fr in frames[:nframes]:
        c.send_raw(b"replay data bytes=%d\n" % len(fr) + fr)
        assert c.reply()["ok"]
    last = frames[nframes]
    c.send_raw(b"replay data bytes=%d\n" % len(last) + (last if partial < 0 else last[:partial]))
    print("ready", flush=True)
    time.sleep(3600)


def fingerprint(c):
    st = c.ok("status")
    st.pop("pid")
    return (json.dumps(st, sort_keys=True), c.ok("show buddyinfo")["text"],
            c.ok("show pagetypeinfo")["text"], c.ok("show zoneinfo")["text"])


def killed_streamer(sock, trace, nframes, partial):
    """Starts a streamer, kills it with SIGKILL once it is ready; returns once memd freed the slot."""
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "stream", sock, trace,
                          str(nframes), str(partial)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready", "the streamer did not start"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    # memd notices the disconnect asynchronously (and finishes applying a whole frame first).
    c = Conn(sock)
    deadline = time.monotonic() + 20
    t0 = time.monotonic()
    while (r := c.cmd("replay begin")) != {"ok": True}:
        assert "another replay is running" in r["error"], r
        assert time.monotonic() < deadline, "the replay slot stayed taken after its client died"
        time.sleep(0.01)
    freed_after = time.monotonic() - t0
    r = c.ok("replay abort")
    assert r["lines"] == 0, r
    c.close()
    return freed_after


def replay_kill(sock, mnt, trace):
    c = Conn(sock)
    frames = trace_frames(trace, 30000, 12)

    # Premise: five frames change the machine, else the comparisons below could not fail.
    c.ok("reset")
    fresh = fingerprint(c)
    ref = Conn(sock)
    assert ref.cmd("replay begin") == {"ok": True}
    for fr in frames[:5]:
        ref.send_raw(b"replay data bytes=%d\n" % len(fr) + fr)
        assert ref.reply()["ok"]
    ref.ok("replay abort")
    assert fingerprint(c) != fresh, "five frames of the sample trace left the machine as it was"

    # Killed mid-frame, after five frames were applied: the replay is rolled back.
    c.ok("reset")
    t = killed_streamer(sock, trace, 5, len(frames[5]) // 2)
    assert fingerprint(c) == fresh, "a killed client's replay was not rolled back (mid-frame)"
    print(f"replay-kill: killed mid-frame, slot free after {t * 1000:.0f} ms, rolled back")

    # Killed after sending a whole sixth frame, before its reply: rolled back too.
    c.ok("reset")
    t = killed_streamer(sock, trace, 5, -1)
    assert fingerprint(c) == fresh, "a killed client's replay was not rolled back (whole frame)"
    print(f"replay-kill: killed after a whole frame, slot free after {t * 1000:.0f} ms, rolled back")

    # Other clients allocate and read throughout while streamers are killed: no error.
    c.ok("reset")
    errors, ops = [], [0]
    stop = threading.Event()

    def other(i):
        try:
            k = Conn(sock)
            while not stop.is_set():
                a = k.ok(f"alloc order={i % 3} gfp=GFP_KERNEL count=4")["allocations"]
                r = k.ok("free " + " ".join(f"id={x['id']}" for x in a))
                assert [x["id"] for x in r["freed"]] == [x["id"] for x in a], r
                with open(os.path.join(mnt, "buddyinfo")) as f:
                    assert f.read().startswith("Node 0")
                ops[0] += 3
        except Exception as e:  # noqa: BLE001
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=other, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    times = [killed_streamer(sock, trace, i % 4, [10, 5000, -1][i % 3]) for i in range(6)]
    stop.set()
    for th in threads:
        th.join()
    assert not errors, errors
    assert ops[0] > 0
    assert c.ok("check") == {"ok": True, "problems": []}
    print(f"replay-kill: 6 streamers killed while 4 clients made {ops[0]} requests without error; "
          f"slot free after at most {max(times) * 1000:.0f} ms; check passes")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "workload":
        workload(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif mode == "stream":
        stream(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "replay-kill":
        replay_kill(sys.argv[2], sys.argv[3], sys.argv[4])
