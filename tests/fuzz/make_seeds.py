#!/usr/bin/env python3
"""Writes the seed corpora of the daemon's fuzz targets (fuzz_command,
fuzz_socket, fuzz_config, fuzz_trace) from real inputs: the commands of the
tests, the sample trace, the configuration of product.md and packaging/.
usage: make_seeds.py [SAMPLE_TRACE]   (run from anywhere; rewrites the seeds)"""
import gzip
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "traces",
                                                             "build-sample.trace.gz")


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


with gzip.open(SAMPLE, "rb") as f:
    trace = f.read().splitlines(keepends=True)
# A header, then event lines from several places of the sample.
head = b"".join(trace[:40])
middle = b"".join(trace[150000:150060])
tail = b"".join(trace[-40:])
extfrag = b"".join([ln for ln in trace if b"mm_page_alloc_extfrag" in ln][:5])
batched = b"".join([ln for ln in trace if b"mm_page_free_batched" in ln][:10])

# --- trace lines (fuzz_trace: 4 bytes of seed, then the text) ---
write("fuzz_trace", "head", b"\0\0\0\1" + head)
write("fuzz_trace", "middle", b"\1\2\3\4" + middle)
write("fuzz_trace", "tail", b"\7\7\7\7" + tail)
write("fuzz_trace", "extfrag", b"\0\1\0\1" + extfrag + middle[:2000])
write("fuzz_trace", "batched", b"\3\0\0\0" + batched)
write("fuzz_trace", "hand", b"\0\0\0\0" +
      b"# tracer: nop\n"
      b"CPU:1 [LOST 12 EVENTS]\n"
      b"  a [1] b-7 [000] ..... 1.0: mm_page_alloc: page=0 pfn=0x10 order=0 migratetype=0 "
      b"gfp_flags=GFP_KERNEL\n"
      b"  a b-7 [001] d..1. 1.5: mm_page_alloc: page=0 pfn=0x20 order=2 migratetype=1 "
      b"gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO|0x4000000\n"
      b"  a b-7 [001] d..1. 1.6: mm_page_alloc: page=0 pfn=0x0 order=0 migratetype=0 "
      b"gfp_flags=none\n"
      b"  a b-7 [000] ..... 2.0: mm_page_free: page=0 pfn=0x10 order=0\n"
      b"  a b-7 [000] ..... 2.1: mm_page_free_batched: page=0 pfn=0x20 order=0\n"
      b"  a b-7 [003] ..... 2.2: mm_page_free: page=0 pfn=0x20 order=2\n"
      b"  kworker/0:1-9 [002] ..... 3.0: sched_switch: prev=a\n"
      b"\n")

# --- command lines (fuzz_command and fuzz_socket) ---
commands = [
    "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE",
    "alloc  order=0\tgfp=GFP_KERNEL|__GFP_ZERO node=0 cpu=1 count=0x10\r",
    "alloc order=0 gfp=0xcc0 count=40",
    "alloc order=10 gfp=GFP_KERNEL|__GFP_NORETRY count=100",
    "alloc order=2 gfp=GFP_ATOMIC cpu=1",
    "alloc order=1 gfp=GFP_DMA32",
    "alloc order=0 gfp=GFP_KERNEL|__GFP_RECLAIMABLE count=5",
    "alloc order=9 gfp=GFP_TRANSHUGE",
    "alloc order=1 gfp=__GFP_DMA|__GFP_DMA32",
    "alloc order=1 gfp=GFP_KERNEL node=5",
    "free pfn=0x1f400 id=7 pfn=12 cpu=1",
    "free id=1 id=2",
    "free id=3 cpu=1",
    "free all cpu=1",
    "free all",
    "sysctl",
    "sysctl vm.min_free_kbytes",
    "sysctl min_free_kbytes=20000",
    "sysctl watermark_scale_factor=300",
    "sysctl watermark_boost_factor=0",
    "sysctl lowmem_reserve_ratio=256,256,32,0,0",
    "sysctl percpu_pagelist_high_fraction=8",
    "sysctl min_free_kbytes=-5",
    "show buddyinfo",
    "show file=zoneinfo",
    "show pagetypeinfo",
    "status",
    "check",
    "help",
    "reset",
    "replay end",
    "replay abort",
    "frobnicate x=1",
    "show \"zone info\"",
]
write("fuzz_command", "all-verbs", "\n".join(commands) + "\n")
write("fuzz_socket", "all-verbs", "\n".join(commands) + "\n")
for i, c in enumerate(commands):
    write("fuzz_command", f"line{i:02d}", c + "\n")
stream = (b"alloc order=0 gfp=GFP_KERNEL count=3\nreplay begin\n"
          b"replay data bytes=%d\n" % len(middle[:3000]) + middle[:3000] +
          b"status\nreplay data bytes=0\n" +
          b"replay data bytes=%d\n" % len(middle[3000:5000]) + middle[3000:5000] +
          b"replay end\ncheck\n")
write("fuzz_command", "replay-stream", stream)
write("fuzz_socket", "replay-stream", stream)
write("fuzz_command", "replay-abort",
      b"replay begin\nreplay begin\nreplay data bytes=100\n" + head[:100] +
      b"reset\nreplay data bytes=10\n0123456789replay abort\nreplay begin\nreplay abort\n")
# A history (every=N), a replay continued after an abort and a reset, and the refusals.
history = (b"replay begin every=7\nreplay data bytes=%d\n" % len(middle[:2500]) + middle[:2500] +
           b"replay abort\nreplay begin continue every=3\n"
           b"replay data bytes=%d\n" % len(middle[2500:6000]) + middle[2500:6000] +
           b"replay end\nreplay begin every=0\nreset\nreplay begin continue\ncheck\n")
write("fuzz_command", "replay-history", history)
write("fuzz_socket", "replay-history", history)
write("fuzz_command", "replay-cut", b"replay begin\nreplay data bytes=5000\n" + middle[:1000])
write("fuzz_socket", "replay-cut", b"replay begin\nreplay data bytes=5000\n" + middle[:1000])
write("fuzz_socket", "skip-frame", b"replay data bytes=5\nhellostatus\nreplay data bytes=lots\nstatus\n")
write("fuzz_socket", "oversized", b"status\nalloc " + b"x" * 66000 + b"\nstatus\n")
write("fuzz_socket", "garbage", b"\xff\xfe\x00garbage\n\n\r\nalloc order=0 gfp=GFP_KER")

# --- configurations (fuzz_config) ---
product = '''[machine]
arch = "x86_64"
size = "4G"
e820 = """
BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
BIOS-e820: [mem 0x0000000000100000-0x000000007ffdffff] usable
"""
cmdline = "kernelcore=1G sysctl.vm.watermark_scale_factor=100"
cpus = 2
thp = true

[[machine.node]]
start = "0x0"
end = "0x80000000"
cpus = [0, 1]
distance = [10, 20]

[[machine.reserved]]
start = "0x0"
end = "0x100000"

[[machine.mirrored]]
start = "0x0"
end = "0x40000000"

[daemon]
mount = "/run/memd/proc"
socket = "/run/memd/memd.sock"
socket_group = "memd"
state_dir = "/var/lib/memd"
'''
write("fuzz_config", "product", product)
with open(os.path.join(ROOT, "packaging", "memd.toml")) as f:
    write("fuzz_config", "packaging", f.read())
write("fuzz_config", "small-numa", '''[machine]
arch = "x86_64"
cmdline = "movablecore=10% sysctl.vm.min_free_kbytes=2048"
thp = false

[[machine.node]]
size = "96M"
cpus = [0, 2]
distance = [10, 21]

[[machine.node]]
size = "64M"
cpus = [1]
distance = [21, 10]

[[machine.reserved]]
start = 0
end = "1M"

[daemon]
allow_other = false
fuse_threads = 2
socket_threads = 1
max_clients = 10
''')
write("fuzz_config", "small-i386", '''[machine]
arch = "i386"
size = "200M"
cpus = 3
cmdline = "kernelcore=mirror"

[[machine.mirrored]]
start = "0x0"
end = "0x4000000"
''')
write("fuzz_config", "small-e820", '''[machine]
e820 = """
BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable
BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved
BIOS-e820: [mem 0x0000000000100000-0x0000000007ffdfff] usable
BIOS-e820: [mem 0x0000000007ffe000-0x0000000007ffffff] reserved
"""
[[machine.node]]
start = "0x0"
end = "0x4000000"
[[machine.node]]
start = "0x4000000"
end = "0x8000000"
''')
print("seeds written under", os.path.join(HERE, "corpus"))
