#!/usr/bin/env python3
"""Load on memd's socket while readers loop over the mount:

- workers: hundreds of clients allocating and freeing in pipelined batches;
  every reply parses and is checked (shapes, orders, alignment, ids never
  handed out twice, blocks never overlapping another live block, frees by id
  returning exactly the blocks allocated);
- flooders: pipelined floods of cheap and bad requests (status, show, help,
  sysctl, malformed lines), each reply checked;
- slow readers: clients that pipeline large replies (show zoneinfo, help) and
  never read them: memd must not buffer without bound (it drops them);
- oversized lines (64 KiB and more, with and without a newline);
- clients that disconnect mid-line, or right after sending a command (whose
  allocation then stays: memd loses nothing);
- mount readers (a separate process) reading every file in small pieces, and
  probes (other processes) timing `cat buddyinfo`, an open+read+close of
  buddyinfo and a `status` on a fresh connection, every 100 ms: that status
  is answered within 100 ms however busy the pool is.

memd's VmRSS/VmHWM are sampled throughout. Afterwards `check` passes, the
allocations of the clients that hung up are all there, and `free all` frees
exactly them. Prints the figures; asserts the bounds given on the command line.

usage: load_test.py SOCKET MOUNT MEMD_PID [--long]
       (MEMD_LOAD_MAX_HWM_MB, MEMD_LOAD_MAX_LATENCY_MS, MEMD_LOAD_MAX_STATUS_MS override the bounds)
"""
import asyncio
import json
import os
import random
import re
import resource
import select
import socket
import statistics
import subprocess
import sys
import threading
import time

from memdclient import read_file

GFPS = ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_ATOMIC",
        "GFP_DMA32", "GFP_KERNEL|__GFP_ZERO", "GFP_NOWAIT"]
FILES = ["buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo", "extfrag_index",
         "unusable_index"]
BUDDY_LINE = re.compile(r"^Node \d+, zone +\w+( +\d+){11} *$")
ALLOC_KEYS = ["id", "pfn", "order", "zone", "node", "migratetype"]


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


# --- helper processes: mount readers and the latency probe ---------------------------------


def run_readers(mnt, seconds, nthreads):
    """Threads reading every file in pieces until the time is up; prints a JSON summary."""
    stop = time.monotonic() + seconds
    counts = [0] * nthreads
    errors = []

    def reader(i):
        rng = random.Random(i)
        n = 0
        while time.monotonic() < stop:
            name = FILES[n % len(FILES)]
            try:
                # Small pieces of the small files; zoneinfo of a many-CPU machine is megabytes.
                chunk = rng.choice([17, 333, 4096] if name != "zoneinfo" else [4096, 1 << 17])
                text = read_file(mnt, name, chunk)
            except OSError as e:
                errors.append(f"{name}: {e!r}")
                return
            if not text.endswith("\n"):
                errors.append(f"{name}: no final newline")
            if name == "buddyinfo" and not all(BUDDY_LINE.match(ln) for ln in text.splitlines()):
                errors.append(f"buddyinfo: {text!r}")
            n += 1
            counts[i] = n

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"reads": sum(counts), "errors": errors[:10], "nerrors": len(errors)}))


def run_probe(mnt, sock, seconds, what):
    """Loops, every 100 ms each: `cat buddyinfo` and an open+read+close of it
    (what == "mount"), or `status` on a new connection (what == "status").

    The status probe is a process of its own, as root at a higher priority
    (nice -10) than the load: it measures how long memd makes a new client
    wait, not how long a Python thread waits for the CPUs (or the GIL) it
    shares with the load's own processes."""
    if what == "status" and os.geteuid() == 0:
        os.nice(-10)
    stop = time.monotonic() + seconds
    results = {"cat": [], "read": [], "status": [], "errors": []}
    path = os.path.join(mnt, "buddyinfo")

    def cat():
        out = subprocess.run(["cat", path], capture_output=True, timeout=60, check=True)
        assert out.stdout.startswith(b"Node 0, zone"), out.stdout[:80]

    def read():
        assert read_file(mnt, "buddyinfo", 4096).startswith("Node 0, zone")

    def status():
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(60)
        s.connect(sock)
        s.sendall(b"status\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            assert chunk, "memd closed the probe's connection"
            buf += chunk
        s.close()
        assert json.loads(buf)["ok"] is True, buf[:200]

    def loop(name, what):
        while time.monotonic() < stop:
            t0 = time.monotonic()
            try:
                what()
                results[name].append(time.monotonic() - t0)
            except Exception as e:  # noqa: BLE001
                results["errors"].append(f"{name}: {e!r}")
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))

    loops = [("cat", cat), ("read", read)] if what == "mount" else [("status", status)]
    threads = [threading.Thread(target=loop, args=(n, f)) for n, f in loops]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results["errors"] = results["errors"][:10]
    print(json.dumps(results))


# --- memory sampling -------------------------------------------------------------------------


class MemorySampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.max_rss = 0
        self.hwm = 0
        self.samples = 0

    def read(self):
        fields = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    fields[k] = int(v.split()[0])  # kB
        return fields

    def run(self):
        while not self.stop.is_set():
            try:
                f = self.read()
            except OSError:
                return
            self.max_rss = max(self.max_rss, f["VmRSS"])
            self.hwm = max(self.hwm, f["VmHWM"])
            self.samples += 1
            self.stop.wait(0.05)


# --- the socket clients ----------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.replies = 0          # replies received and checked
        self.requests = 0         # command lines sent
        self.connections = 0
        self.concurrent = 0
        self.max_concurrent = 0
        self.errors = []          # anything wrong
        self.refusals = 0         # bad input refused as expected
        self.alloc_failures = 0   # the allocator said no (fine, counted)
        self.slow_rounds = 0
        self.slow_dropped = 0     # slow readers memd disconnected
        self.slow_drop_times = []  # after how long
        self.oversized = 0
        self.hangups = 0          # clients that disconnected on purpose
        self.orphans = 0          # allocations made for clients that hung up

    def error(self, msg):
        if len(self.errors) < 50:
            self.errors.append(msg)


S = Stats()
LIVE = {}        # pfn -> (order, id): every block some worker holds
SEEN_IDS = set()


def overlaps(pfn, order):
    """The live block that [pfn, pfn + 2^order) would overlap, if any."""
    for o in range(11):
        base = pfn & ~((1 << o) - 1)
        if base in LIVE and LIVE[base][0] >= o:
            return base
    if order <= 6:
        for p in range(pfn + 1, pfn + (1 << order)):
            if p in LIVE:
                return p
    return None


class Connection:
    def __init__(self):
        self.r = self.w = None

    async def open(self, sock):
        self.r, self.w = await asyncio.open_unix_connection(sock, limit=1 << 24)
        S.connections += 1
        S.concurrent += 1
        S.max_concurrent = max(S.max_concurrent, S.concurrent)

    def close(self):
        if self.w:
            self.w.close()
            self.w = None
            S.concurrent -= 1

    async def send(self, lines):
        self.w.write("".join(line + "\n" for line in lines).encode())
        S.requests += len(lines)
        await self.w.drain()

    async def reply(self, timeout=60):
        line = await asyncio.wait_for(self.r.readline(), timeout)
        if not line.endswith(b"\n"):
            raise EOFError("memd closed the connection")
        r = json.loads(line)
        if not isinstance(r, dict) or not r or next(iter(r)) != "ok":
            raise ValueError(f"reply without ok first: {line[:200]!r}")
        S.replies += 1
        return r


async def worker(sock, i, stop):
    rng = random.Random(i)
    c = Connection()
    mine = {}  # id -> (pfn, order)
    try:
        await c.open(sock)
        while time.monotonic() < stop:
            # A batch of allocations and reads, pipelined.
            batch = []
            for _ in range(rng.randrange(1, 5)):
                batch.append((rng.randrange(4), rng.choice(GFPS), rng.randrange(2), rng.randrange(1, 5)))
            lines = [f"alloc order={o} gfp={g} cpu={cpu} count={n}" for o, g, cpu, n in batch]
            extra = rng.choice(["status", "show buddyinfo", "sysctl min_free_kbytes", "help"])
            await c.send(lines + [extra])
            for (order, _gfp, _cpu, n), line in zip(batch, lines):
                r = await c.reply()
                if not r["ok"]:
                    if r["error"].startswith("page allocation failure"):
                        S.alloc_failures += 1
                        r = {"allocations": r.get("allocations", [])}
                    else:
                        S.error(f"worker {i}: {line} -> {r}")
                        return
                elif len(r["allocations"]) != n:
                    S.error(f"worker {i}: {line} -> {len(r['allocations'])} allocations")
                for a in r["allocations"]:
                    pfn = int(a["pfn"], 16)
                    if list(a) != ALLOC_KEYS or a["order"] != order or pfn % (1 << order):
                        S.error(f"worker {i}: {line} -> bad allocation {a}")
                    if a["id"] in SEEN_IDS:
                        S.error(f"worker {i}: id {a['id']} handed out twice")
                    SEEN_IDS.add(a["id"])
                    other = overlaps(pfn, order)
                    if other is not None:
                        S.error(f"worker {i}: {a} overlaps live block at {other:#x} {LIVE[other]}")
                    LIVE[pfn] = (order, a["id"])
                    mine[a["id"]] = (pfn, order)
            r = await c.reply()
            if not r["ok"]:
                S.error(f"worker {i}: {extra} -> {r}")
            # Free about half, by id or pfn, in one command.
            ids = list(mine)
            rng.shuffle(ids)
            victims = ids[: (len(ids) + 1) // 2]
            if victims:
                await free(c, mine, victims, rng, f"worker {i}")
        if mine:
            await free(c, mine, list(mine), rng, f"worker {i} (last)")
    except Exception as e:  # noqa: BLE001
        S.error(f"worker {i}: {e!r}")
    finally:
        c.close()


async def free(c, mine, victims, rng, who):
    words = []
    for v in victims:
        pfn, _ = mine[v]
        words.append(f"id={v}" if rng.random() < 0.5 else f"pfn={pfn:#x}")
        LIVE.pop(pfn, None)  # before memd frees it: another client may get it as soon as it does
    line = "free " + " ".join(words) + f" cpu={rng.randrange(2)}"
    await c.send([line])
    r = await c.reply()
    if not r["ok"] or r["count"] != len(victims):
        S.error(f"{who}: {line[:100]} -> {str(r)[:300]}")
        return
    for v, a in zip(victims, r["freed"]):
        if a["id"] != v or int(a["pfn"], 16) != mine[v][0] or a["order"] != mine[v][1]:
            S.error(f"{who}: freed {a}, wanted id {v} {mine[v]}")
        del mine[v]


FLOOD = [("status", True, None), ("show buddyinfo", True, None), ("help", True, None),
         ("sysctl", True, None), ("show meminfo", True, None),
         ("dance", False, "unknown command 'dance'"),
         ("alloc order=99 gfp=GFP_KERNEL", False, "order=99"),
         ("free pfn=0x3", False, "not the first page of a live allocation"),
         ("alloc order=1 gfp=__GFP_DMA|__GFP_DMA32", False, "GFP_ZONE_BAD"),
         ("replay end", False, "no replay running"),
         ("", False, "empty command")]


async def flooder(sock, i, stop):
    rng = random.Random(10_000 + i)
    c = Connection()
    try:
        await c.open(sock)
        while time.monotonic() < stop:
            batch = [rng.choice(FLOOD) for _ in range(64)]
            await c.send([b[0] for b in batch])
            for line, ok, want in batch:
                r = await c.reply()
                if r["ok"] != ok or (want and want not in r.get("error", "")):
                    S.error(f"flooder {i}: {line!r} -> {str(r)[:200]}")
                    return
                if not ok:
                    S.refusals += 1
    except Exception as e:  # noqa: BLE001
        S.error(f"flooder {i}: {e!r}")
    finally:
        c.close()


async def raw_connect(sock):
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    await asyncio.get_running_loop().sock_connect(s, sock)
    S.connections += 1
    return s


async def raw_read_all(s, timeout):
    """Reads until EOF (True) or until nothing came for `timeout` s (False)."""
    loop = asyncio.get_running_loop()
    data = b""
    try:
        while True:
            b = await asyncio.wait_for(loop.sock_recv(s, 1 << 20), timeout)
            if not b:
                return True, data
            data += b
    except asyncio.TimeoutError:
        return False, data
    except ConnectionResetError:
        return True, data


def hung_up(s):
    """Whether memd closed the connection, even with replies still unread before the EOF."""
    p = select.poll()
    p.register(s, select.POLLRDHUP)
    return any(ev & (select.POLLRDHUP | select.POLLHUP) for _, ev in p.poll(0))


async def slow_reader(sock, i, stop, linger, strict):
    """Pipelines large replies (zoneinfo of a many-CPU machine) and reads
    nothing for `linger` s; memd must hang up on it rather than keep them."""
    payload = b"show zoneinfo\n" * 100
    while time.monotonic() < stop - 3:
        try:
            s = await raw_connect(sock)
        except OSError as e:
            S.error(f"slow reader {i}: connect: {e!r}")
            return
        S.slow_rounds += 1
        sent = 0
        t0 = time.monotonic()
        dropped = False
        while time.monotonic() - t0 < linger:
            try:
                if sent < len(payload):
                    sent += s.send(payload[sent:])
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                pass
            if hung_up(s):
                dropped = True
                S.slow_dropped += 1
                S.slow_drop_times.append(time.monotonic() - t0)
                break
            await asyncio.sleep(0.25)
        if not dropped and strict:  # memd drops a reader after 10 s at most
            S.error(f"slow reader {i}: still connected after {linger} s without reading")
        S.requests += payload[:sent].count(b"\n")
        s.close()


async def oversized(sock, i):
    """A line over 64 KiB: one error reply, then memd hangs up."""
    loop = asyncio.get_running_loop()
    try:
        s = await raw_connect(sock)
    except OSError as e:
        S.error(f"oversized {i}: connect: {e!r}")
        return
    try:
        data = b"alloc " + b"x" * 70000 + b"\n" if i % 2 else b"y" * (1 << 20)  # newline or none
        S.requests += 1
        try:
            await loop.sock_sendall(s, data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # memd hung up while we were still writing: fine
        eof, got = await raw_read_all(s, 30)
        lines = got.split(b"\n")
        if not eof or len(lines) != 2 or lines[1]:
            S.error(f"oversized {i}: eof={eof} {got[:300]!r}")
            return
        r = json.loads(lines[0])
        S.replies += 1
        if r["ok"] or "longer than 65536 bytes" not in r["error"]:
            S.error(f"oversized {i}: {r}")
        S.oversized += 1
    except Exception as e:  # noqa: BLE001
        S.error(f"oversized {i}: {e!r}")
    finally:
        s.close()


async def hangup(sock, i):
    """Disconnects mid-line, or right after a command (whose allocation memd must keep)."""
    c = Connection()
    try:
        await c.open(sock)
        if i % 2:
            c.w.write(b"alloc order=0 gfp=GFP_KER")
        else:
            c.w.write(b"alloc order=1 gfp=GFP_KERNEL cpu=1\n")
            S.orphans += 1
            S.requests += 1
        await c.w.drain()
        S.hangups += 1
    except Exception as e:  # noqa: BLE001
        S.error(f"hangup {i}: {e!r}")
    finally:
        c.close()


async def main_load(sock, mnt, pid, cfg):
    stop = time.monotonic() + cfg["seconds"]
    tasks = [asyncio.create_task(worker(sock, i, stop)) for i in range(cfg["workers"])]
    tasks += [asyncio.create_task(flooder(sock, i, stop)) for i in range(cfg["flooders"])]
    tasks += [asyncio.create_task(slow_reader(sock, i, stop, cfg["linger"], cfg["strict"]))
              for i in range(cfg["slow"])]
    n = 0
    while time.monotonic() < stop:  # a steady trickle of oversized lines and hang-ups
        tasks.append(asyncio.create_task(oversized(sock, n)))
        for k in range(5):
            tasks.append(asyncio.create_task(hangup(sock, 5 * n + k)))
        n += 1
        await asyncio.sleep(cfg["seconds"] / cfg["trickle"])
    await asyncio.gather(*tasks)


def command(sock, line):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(sock)
    s.sendall(line.encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            raise EOFError(line)
        buf += chunk
    s.close()
    return json.loads(buf)


def main():
    if sys.argv[1] == "--readers":
        return run_readers(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
    if sys.argv[1] == "--probe":
        return run_probe(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    sock, mnt, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    long_run = "--long" in sys.argv[4:]
    cfg = (dict(seconds=300, workers=800, flooders=64, slow=1000, linger=30, trickle=600)
           if long_run else
           dict(seconds=15, workers=200, flooders=16, slow=400, linger=14, trickle=40))
    # Under a sanitizer memd is several times slower: fewer clients (MEMD_TEST_SCALE).
    scale = float(os.environ.get("MEMD_TEST_SCALE", 1))
    for k in ("workers", "flooders", "slow", "trickle"):
        cfg[k] = max(1, int(cfg[k] * scale))
    cfg["strict"] = scale >= 1  # under a sanitizer, time bounds are loose
    max_hwm_mb = float(os.environ.get("MEMD_LOAD_MAX_HWM_MB", 192))
    max_latency_ms = float(os.environ.get("MEMD_LOAD_MAX_LATENCY_MS", 1000))
    # A new client's first reply (`status` on a new connection): the first
    # lane answers it while the pool is busy (issue 15). Not under a sanitizer.
    max_status_ms = float(os.environ.get("MEMD_LOAD_MAX_STATUS_MS", 100))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    before = command(sock, "status")
    assert before["ok"] and before["live_allocations"] == 0, before
    mem = MemorySampler(pid)
    baseline_kb = mem.read()["VmRSS"]
    mem.start()
    me = os.path.abspath(__file__)
    helper_seconds = cfg["seconds"] + 2
    readers = subprocess.Popen([sys.executable, me, "--readers", mnt, str(helper_seconds), "4"],
                               stdout=subprocess.PIPE)
    probes = [subprocess.Popen([sys.executable, me, "--probe", mnt, sock, str(helper_seconds), what],
                               stdout=subprocess.PIPE) for what in ("mount", "status")]
    t0 = time.monotonic()
    asyncio.run(main_load(sock, mnt, pid, cfg))
    elapsed = time.monotonic() - t0
    rd = json.loads(readers.communicate(timeout=120)[0])
    pr = {"cat": [], "read": [], "status": [], "errors": []}
    for p in probes:
        for k, v in json.loads(p.communicate(timeout=120)[0]).items():
            pr[k] += v
    mem.stop.set()
    mem.join()
    hwm_kb = max(mem.hwm, mem.read()["VmHWM"])

    # Afterwards: every invariant holds, the hung-up clients' allocations are
    # all there (and nothing else), and free all frees exactly them.
    check = command(sock, "check")
    st = command(sock, "status")
    freed = command(sock, "free all")
    after = command(sock, "status")
    check2 = command(sock, "check")

    lat_read = [x * 1000 for x in pr["read"]]
    lat_cat = [x * 1000 for x in pr["cat"]]
    lat_status = [x * 1000 for x in pr["status"]]
    print(f"load: {elapsed:.1f} s, {S.connections} connections ({S.max_concurrent} at once, "
          f"{cfg['workers']} workers, {cfg['flooders']} flooders, {cfg['slow']} slow readers), "
          f"{S.requests} requests sent, {S.replies} replies checked, {S.refusals} refusals as expected, "
          f"{S.alloc_failures} allocation failures, {S.oversized} oversized lines, {S.hangups} hang-ups, "
          f"slow readers dropped by memd {S.slow_dropped}/{S.slow_rounds} "
          f"(after {min(S.slow_drop_times or [0]):.1f}-{max(S.slow_drop_times or [0]):.1f} s)")
    print(f"load: memd VmRSS before {baseline_kb / 1024:.1f} MiB, max sampled {mem.max_rss / 1024:.1f} MiB, "
          f"VmHWM {hwm_kb / 1024:.1f} MiB ({mem.samples} samples)")
    print(f"load: mount readers {rd['reads']} reads, {rd['nerrors']} errors")
    print(f"load: open+read buddyinfo ms p50 {statistics.median(lat_read or [0]):.1f} "
          f"p99 {percentile(lat_read, 0.99):.1f} max {max(lat_read or [0]):.1f} (n={len(lat_read)}); "
          f"`cat buddyinfo` ms p50 {statistics.median(lat_cat or [0]):.1f} max {max(lat_cat or [0]):.1f} "
          f"(n={len(lat_cat)}); `status` on a new connection ms p50 "
          f"{statistics.median(lat_status or [0]):.1f} max {max(lat_status or [0]):.1f} (n={len(lat_status)})")
    print(f"load: errors {len(S.errors)}; afterwards live allocations {st['live_allocations']} "
          f"(hung-up clients' {S.orphans}), free all freed {freed.get('count')}, check {check['ok']}")

    problems = list(S.errors)
    problems += [f"mount reader: {e}" for e in rd["errors"]]
    problems += [f"probe: {e}" for e in pr["errors"]]
    if not check["ok"] or not check2["ok"]:
        problems.append(f"check: {check} / {check2}")
    if st["live_allocations"] != S.orphans or freed.get("count") != S.orphans:
        problems.append(f"live allocations {st['live_allocations']}, free all {freed}, "
                        f"but {S.orphans} clients hung up after an alloc")
    if after["live_allocations"] != 0:
        problems.append(f"after free all: {after['live_allocations']} live")
    if (hwm_kb - baseline_kb) / 1024 > max_hwm_mb:
        problems.append(f"memd's VmHWM grew by {(hwm_kb - baseline_kb) / 1024:.0f} MiB "
                        f"(bound {max_hwm_mb:.0f} MiB)")
    worst = max(lat_read + lat_cat or [0])
    if worst > max_latency_ms:
        problems.append(f"reading buddyinfo took {worst:.0f} ms during the flood (bound {max_latency_ms:.0f})")
    if cfg["strict"] and max(lat_status or [0]) > max_status_ms:
        problems.append(f"`status` on a new connection took {max(lat_status):.0f} ms during the "
                        f"flood (bound {max_status_ms:.0f})")
    if not lat_read or not lat_cat or not lat_status:
        problems.append("the probe measured nothing")
    # A time bound too: memd drops a reader that takes nothing for 10 s, and
    # under a sanitizer (ThreadSanitizer above all) a reader may linger its 14 s
    # out before memd, several times slower, has sent it enough to hold.
    if cfg["strict"] and S.slow_rounds and S.slow_dropped == 0:
        problems.append("no slow reader was ever disconnected")
    if problems:
        print("load: FAILED\n  " + "\n  ".join(problems[:30]))
        sys.exit(1)
    print("load_test.py: all checks passed")


if __name__ == "__main__":
    main()
