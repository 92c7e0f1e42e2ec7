#!/usr/bin/env python3
"""Counts of a trace replay that depend only on the trace, derived
independently of core/trace.cpp with product.md's "Trace replay" rules:
regular expressions for the lines, a dict of trace pfn -> order for the
mapping. Assumes no allocation fails on the emulated machine.

    python3 tests/replay/reference_counts.py ../shared/traces/build-sample.trace.gz
"""
import gzip, re, sys, collections
ev = re.compile(r'\[(\d+)\]\s+(?:[.0-9A-Za-z]{1,8}\s+)?\d+(?:\.\d+)?:\s+(\w+):(?:\s|$)(.*)$')
alloc_re = re.compile(r'^\s*page=\S+\s+pfn=0x([0-9a-f]+)\s+order=(\d+)\s+migratetype=(-?\d+)\s+gfp_flags=(\S+)\s*$')
free_re = re.compile(r'^\s*page=\S+\s+pfn=0x([0-9a-f]+)\s+order=(\d+)\s*$')
c = collections.Counter()
m = {}  # trace pfn -> order
gfps = collections.Counter()
for line in gzip.open(sys.argv[1], 'rt'):
    c['lines'] += 1
    line = line.rstrip('\n')
    x = ev.search(line)
    if not x:
        c['not_event'] += 1; continue
    name, rest = x.group(2), x.group(3)
    if name == 'mm_page_alloc':
        a = alloc_re.match(rest)
        if not a: c['malformed'] += 1; continue
        c['events_alloc'] += 1
        pfn, order = int(a.group(1), 16), int(a.group(2))
        gfps[a.group(4)] += 1
        if pfn == 0: c['skipped_alloc_failed_in_trace'] += 1; continue
        if order > 10: c['skipped_alloc_refused'] += 1; continue
        f = a.group(4).split('|')
        movable = '__GFP_MOVABLE' in f or 'GFP_HIGHUSER_MOVABLE' in f
        zone_bits = {'GFP_DMA': 'dma', '__GFP_DMA': 'dma', 'GFP_DMA32': 'dma32',
                     '__GFP_DMA32': 'dma32', '__GFP_HIGHMEM': 'highmem', 'GFP_HIGHUSER': 'highmem',
                     'GFP_HIGHUSER_MOVABLE': 'highmem'}
        if len({zone_bits[x] for x in f if x in zone_bits}) > 1:  # GFP_ZONE_BAD
            c['skipped_alloc_refused'] += 1; continue
        if movable and '__GFP_RECLAIMABLE' in f:
            c['skipped_alloc_refused'] += 1; continue
        if pfn in m: c['realloc_without_free'] += 1
        m[pfn] = order
        c['applied_allocs'] += 1
    elif name in ('mm_page_free', 'mm_page_free_batched'):
        a = free_re.match(rest)
        if not a: c['malformed'] += 1; continue
        pfn, order = int(a.group(1), 16), int(a.group(2))
        if name == 'mm_page_free':
            c['events_free'] += 1
            if pfn not in m: c['skipped_free_before_trace'] += 1; continue
            if m[pfn] != order: c['free_order_mismatch'] += 1
            del m[pfn]; c['applied_frees'] += 1
        else:
            c['events_free_batched'] += 1
            if pfn not in m: c['skipped_batched'] += 1; continue
            del m[pfn]; c['applied_batched_frees'] += 1
    else:
        c['other_events'] += 1
        if name == 'mm_page_alloc_extfrag': c['extfrag'] += 1
for k in sorted(c): print(k, c[k])
print('live_at_end', len(m), 'pages', sum(1 << o for o in m.values()))
