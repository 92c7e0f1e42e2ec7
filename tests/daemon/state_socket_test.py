"""`snapshot save` / `snapshot load` on the socket: the framing, refusals that
leave the machine as it was, one load at a time, a client gone mid-state.
usage: state_socket_test.py SOCKET MOUNT"""
import sys
import time

from memdclient import Conn

SOCK, MNT = sys.argv[1:3]


def buddyinfo():
    with open(f"{MNT}/buddyinfo") as f:
        return f.read()


def read_exact(c, n):
    data = c.buf[:n]
    c.buf = c.buf[n:]
    while len(data) < n:
        chunk = c.sock.recv(min(1 << 20, n - len(data)))
        if not chunk:
            raise EOFError(f"memd closed the connection {n - len(data)} bytes short")
        data += chunk
    return data


def save(c):
    c.send_raw(b"snapshot save\n")
    r = c.reply()
    assert r["ok"] is True and set(r) == {"ok", "bytes", "allocations"}, r
    return r, read_exact(c, r["bytes"])


def load(c, state: bytes) -> dict:
    c.send_raw(b"snapshot load bytes=%d\n" % len(state) + state)
    return c.reply()


c = Conn(SOCK)
c.ok("alloc order=3 gfp=GFP_HIGHUSER_MOVABLE count=10")
c.ok("alloc order=0 gfp=GFP_KERNEL count=30 cpu=1")

# save: the JSON line, exactly N raw bytes, then the connection goes on (pipelined).
c.send_raw(b"snapshot save\nstatus\n")
r = c.reply()
assert r["ok"] and r["allocations"] == 40, r
state = read_exact(c, r["bytes"])
assert state[:8] == b"MEMDST01", state[:16]
st = c.reply()
assert st["ok"] and st["live_allocations"] == 40, st
saved_buddyinfo = buddyinfo()

# load: the machine comes back whole, ids included.
c.ok("alloc order=5 gfp=GFP_KERNEL count=4")
assert buddyinfo() != saved_buddyinfo
r = load(c, state)
assert r == {"ok": True, "machine": "x86_64, 4095 MiB in 1 node, 2 CPUs", "allocations": 40}, r
assert buddyinfo() == saved_buddyinfo
assert c.ok("free id=10")["freed"][0]["order"] == 3
c.error("free id=41", "no live allocation has this id")
r, state2 = save(c)
assert r["allocations"] == 39

# Refused state leaves the machine untouched, and the connection usable.
before = buddyinfo()
damaged = bytearray(state2)
damaged[len(damaged) // 2] ^= 0x01
r = load(c, bytes(damaged))
assert r == {"ok": False, "error": "snapshot load: state refused: checksum mismatch (damaged)",
             "failure": "bad_input"}, r
r = load(c, state2[:-5])
assert not r["ok"] and "truncated or padded" in r["error"], r
r = load(c, state2 + b"xx")
assert not r["ok"] and "truncated or padded" in r["error"], r
r = load(c, b"#!/bin/sh\nrm -rf /\n")
assert r["error"] == "snapshot load: state refused: not a memd state file (bad magic)", r
assert buddyinfo() == before
assert c.ok("status")["live_allocations"] == 39
c.ok("check")

# Too large for this machine: refused before the bytes are read; the connection closes.
c2 = Conn(SOCK)
c2.send_raw(b"snapshot load bytes=1000000000000\n" + b"\0" * 4096)
r = c2.reply()
assert not r["ok"] and "more than a state of this machine can take" in r["error"], r
assert r["error"].endswith("; closing the connection"), r
assert c2.closed()
# A malformed load line announces bytes that cannot be skipped: closed too.
c2 = Conn(SOCK)
c2.send_raw(b"snapshot load bytes=lots\n")
r = c2.reply()
assert not r["ok"] and "bytes=lots: not a number" in r["error"], r
assert r["error"].endswith("; closing the connection"), r
assert c2.closed()
# A file reference is not a thing the daemon takes.
c.error("snapshot save file=/tmp/x", "unexpected 'file=/tmp/x'")
c2 = Conn(SOCK)
c2.error("snapshot load file=/etc/shadow", "unknown key 'file'")
assert c2.closed()

# One load at a time: the second is refused while the first's bytes arrive.
c1 = Conn(SOCK)
c1.send_raw(b"snapshot load bytes=%d\n" % len(state) + state[:1000])
time.sleep(0.2)
c2 = Conn(SOCK)
c2.send_raw(b"snapshot load bytes=%d\n" % len(state))
r = c2.reply()
assert r == {"ok": False, "error": "snapshot load: another load is in progress; closing the connection",
             "failure": "busy"}, r
assert buddyinfo() == before  # nothing loaded before all the bytes arrived
c1.send_raw(state[1000:])
r = c1.reply()
assert r["ok"] and r["allocations"] == 40, r
assert buddyinfo() == saved_buddyinfo

# A client gone mid-state loads nothing, and frees the slot.
c.ok("alloc order=1 gfp=GFP_KERNEL")
before = buddyinfo()
c1 = Conn(SOCK)
c1.send_raw(b"snapshot load bytes=%d\n" % len(state2) + state2[: len(state2) // 2])
time.sleep(0.2)
c1.close()
time.sleep(0.2)
assert buddyinfo() == before
r = load(c, state2)
assert r["ok"] and r["allocations"] == 39, r
c.ok("check")
print("state_socket_test.py: ok")
