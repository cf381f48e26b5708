#!/usr/bin/env python3
"""Writes the linker version script: lib/framepool.sym (the core) with the
symbol lines of each built adapter's fragment (lib/framepool-*.sym) added to
its global list.  Usage: gen-sym.py OUTPUT CORE [FRAGMENT...]"""
import sys

out, core, fragments = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = open(core).read().splitlines()
extra = []
for frag in fragments:
    for line in open(frag).read().splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            extra.append('\t' + line)
at = lines.index('local:')
globals_ = sorted(set(l for l in lines[:at] if l.strip().endswith(';')) | set(extra),
                  key=lambda l: l.strip())
head = [l for l in lines[:at] if not l.strip().endswith(';')]
with open(out, 'w') as f:
    f.write('\n'.join(head + globals_ + lines[at:]) + '\n')
