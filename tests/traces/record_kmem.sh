#!/usr/bin/env bash
# Records this machine's kmem:mm_page_alloc and mm_page_free events while a
# small workload runs, in a tracefs instance of its own (the global buffer
# and other tools' instances are never touched), and writes one recording in
# three forms, plus a perf recording of its own:
#   OUT/kmem.ftrace.txt  the instance's `trace` file (the kernel's text)
#   OUT/kmem.dat         trace-cmd's trace.dat, made by `trace-cmd restore`
#                        from the instance's raw per-CPU buffers, with only
#                        the formats the kmem events need (a few KiB)
#   OUT/kmem.report.txt  `trace-cmd report` of kmem.dat
#   OUT/kmem.perf.txt    `perf script` of `perf record -e kmem:...` (when perf works)
# `trace-cmd record` itself cannot run on hosts whose function tracer files
# refuse writes (EPERM on set_ftrace_pid, as on the test VMs), hence restore.
# Always cleans up: events off, the instance removed, temporary files gone.
# Exit 77 when tracefs or trace-cmd is not available.
# BUFFER_KB (environment) sets the instance's per-CPU buffer: a small one
# keeps only the last events of a busy machine (the shipped fixtures: 8).
#   usage: record_kmem.sh OUTDIR [WORKLOAD_KB]
set -euo pipefail
OUT=${1:?usage: $0 OUTDIR [WORKLOAD_KB]}
KB=${2:-200}
T=/sys/kernel/tracing
if [ ! -d "$T/instances" ]; then
  mount -t tracefs nodev "$T" 2>/dev/null || { echo "SKIP: no tracefs at $T (not root?)"; exit 77; }
fi
command -v trace-cmd >/dev/null || { echo "SKIP: trace-cmd is not installed"; exit 77; }
I="$T/instances/memd-record-$$"
W=$(mktemp -d /tmp/memd-record.XXXXXX)
cleanup() {
  if [ -d "$I" ]; then
    echo 0 >"$I/tracing_on" 2>/dev/null || true
    echo 0 >"$I/events/enable" 2>/dev/null || true
    rmdir "$I" 2>/dev/null || true
  fi
  rm -rf "$W"
}
trap cleanup EXIT
mkdir "$I"
[ -z "${BUFFER_KB:-}" ] || echo "$BUFFER_KB" >"$I/buffer_size_kb"
echo 1 >"$I/events/kmem/mm_page_alloc/enable"
echo 1 >"$I/events/kmem/mm_page_free/enable"
head -c "${KB}000" /dev/urandom | gzip -c >/dev/null
echo 0 >"$I/events/kmem/mm_page_alloc/enable"
echo 0 >"$I/events/kmem/mm_page_free/enable"
echo 0 >"$I/tracing_on"
mkdir -p "$OUT"
cat "$I/trace" >"$OUT/kmem.ftrace.txt"

# The raw pages of each CPU's buffer (non-blocking: a drained buffer says EAGAIN).
python3 - "$I" "$W" <<'PY'
import errno, os, sys
inst, out = sys.argv[1], sys.argv[2]
for cpu in sorted(os.listdir(f"{inst}/per_cpu")):
    fd = os.open(f"{inst}/per_cpu/{cpu}/trace_pipe_raw", os.O_RDONLY | os.O_NONBLOCK)
    with open(f"{out}/{cpu}.raw", "wb") as f:
        while True:
            try:
                b = os.read(fd, 4096)
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    break
                raise
            if not b:
                break
            f.write(b)
    os.close(fd)
PY
# A tracing directory with only what a kmem trace.dat needs.
F="$W/tracing"
mkdir -p "$F/events/kmem"
cp "$T/events/header_page" "$T/events/header_event" "$F/events/"
cp -r "$T/events/ftrace" "$F/events/"  # trace-cmd restore needs these formats
for e in mm_page_alloc mm_page_free; do
  mkdir -p "$F/events/kmem/$e" && cp "$T/events/kmem/$e/format" "$F/events/kmem/$e/"
done
: >"$F/printk_formats"
cp "$T/saved_cmdlines" "$F/saved_cmdlines"
: >"$W/kallsyms"
trace-cmd restore -c -t "$F" -k "$W/kallsyms" -o "$W/head.dat" >/dev/null 2>"$W/restore.err" ||
  { cat "$W/restore.err"; exit 1; }
ncpu=$(ls "$I/per_cpu" | wc -l)
cpus=()
for ((c = 0; c < ncpu; c++)); do cpus+=("$W/cpu$c.raw"); done
trace-cmd restore -i "$W/head.dat" -o "$OUT/kmem.dat" "${cpus[@]}" >/dev/null 2>"$W/restore.err" ||
  { cat "$W/restore.err"; exit 1; }
trace-cmd report "$OUT/kmem.dat" >"$OUT/kmem.report.txt" 2>/dev/null

if command -v perf >/dev/null &&
  perf record -q -e kmem:mm_page_alloc -e kmem:mm_page_free -a -o "$W/perf.data" -- \
    sh -c "head -c ${KB}000 /dev/urandom | gzip -c >/dev/null" >/dev/null 2>&1; then
  perf script -i "$W/perf.data" >"$OUT/kmem.perf.txt" 2>/dev/null
else
  rm -f "$OUT/kmem.perf.txt"
  echo "note: perf record does not work here; no perf script form"
fi
