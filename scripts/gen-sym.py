#!/usr/bin/env python3
"""Writes the linker version script: lib/framepool.sym (the core) with the
symbol lines of each built adapter's fragment (lib/framepool-*.sym) added.

A symbol line may end in "# since NODE" (e.g. "# since FRAMEPOOL_0.2"): such
symbols go into version node NODE, which inherits the core's first node, so a
program that uses them fails to load against an older library (with a clear
"version not found" message) instead of failing at the first call.

Usage: gen-sym.py OUTPUT CORE [FRAGMENT...]"""
import re
import sys

out, core, fragments = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = open(core).read().splitlines()
first = re.match(r'\s*(\S+)\s*\{', lines[0]).group(1)
nodes = {first: set()}


def take(line):
    m = re.match(r'\s*(fp_\w+);\s*(?:#\s*since\s+(\S+))?\s*$', line)
    if not m:
        return False
    nodes.setdefault(m.group(2) or first, set()).add(m.group(1))
    return True


at = lines.index('local:')
head = [l for l in lines[:at] if not take(l)]
for frag in fragments:
    for line in open(frag).read().splitlines():
        if line.strip() and not line.strip().startswith('#') and not take(line):
            sys.exit('gen-sym.py: %s: cannot read "%s"' % (frag, line))
text = head + ['\t%s;' % s for s in sorted(nodes.pop(first))] + lines[at:]
prev = first
for node in sorted(nodes, key=lambda n: [int(x) if x.isdigit() else x for x in re.split(r'[._]', n)]):
    text += ['%s {' % node, 'global:'] + ['\t%s;' % s for s in sorted(nodes[node])] + ['} %s;' % prev]
    prev = node
with open(out, 'w') as f:
    f.write('\n'.join(text) + '\n')
