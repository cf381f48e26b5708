#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_pool.c into test/fuzz/corpus/.

Each seed is a small hand-written program in fuzz_pool.c's byte language
(an opcode byte, value % 17, then its operands); the fuzzer mutates from
there. Run it again after changing the language:  test/fuzz/gen-corpus.py
"""
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

RAW, YUV420P, NV12, P010, YUV422P, YUV444P, YUYV, BGRA, RGBA, GRAY8 = range(1, 11)
ZERO, POISON, NO_TRACK = 2, 4, 1


def dim(v):
    """pick_dim(): 1..512 as (b % 128) + 1 + (b2 % 4) * 128."""
    v -= 1
    return [v % 128, v // 128]


def create(k, fmt, w=0, h=0, align_log2=6, mx=4, mn=0, flags=0, raw_size=0):
    if fmt == RAW:
        body = [fmt, 0x00, raw_size & 0xFF, raw_size >> 8]
    else:
        body = [fmt, 0x00] + dim(w) + dim(h)
    return [0, k, 1] + body + [align_log2, mx, mn + 1, flags, 1]


def create_raw_bytes(k, fmt, a, rest):
    return [0, k, 0, fmt, a] + rest


def acquire(k, hint=0):
    return [1, k, hint]


def ref(frm, to):
    return [3, frm, to]


def unref(hint=0):
    return [4, hint]


def double_unref(k, idx=0, use_ref=0):
    return [6, k, idx, use_ref]


def foreign_copy(kind, hint=0, scope=0):
    # how: bit 0 = copy of a held frame; (how >> 1) % 5 = what to call
    return [7, 1 | (kind << 1), hint] + ([scope] if kind >= 3 else [])


def foreign_garbage(kind, fill=0x41, scope=0):
    return [7, kind << 1] + [fill] * 96 + ([scope] if kind >= 3 else [])


def tag(hint, text):
    b = text.encode()
    return [8, hint, len(b)] + list(b)


def long_lived(hint=0):
    return [9, hint]


def scope_add(s, hint=0):
    return [10, (s << 2) | 0, hint]


def scope_take(s, hint, idx):
    return [10, (s << 2) | 1, hint, idx]


def scope_end(s):
    return [10, (s << 2) | 2]


def close(k):
    return [11, k]


def export(k, what):
    return [12, (k << 3) | what]


def trim(k):
    return [13, k]


def checkpoint(k, new=1):
    return [14, (k << 1) | new]


def pool_unref(k, roundtrip=0):
    return [15, k, roundtrip]


def write(hint, val):
    return [16, 0, hint, val]


def refcount(hint):
    return [16, 1, hint]


def watchdog(k, on=1):
    return [16, 2, (k << 1) | on]


def seeds():
    s = {}
    p = create(0, YUV420P, 64, 32, mx=4, mn=1)
    p += sum((acquire(0, i) for i in range(5)), [])
    p += ref(0, 10) + refcount(0) + write(1, 0x5A) + unref(10) + unref(0)
    p += export(0, 0) + export(0, 1) + export(0, 2) + export(0, 3) + export(0, 4)
    p += unref(1) + unref(2) + unref(3) + trim(0) + pool_unref(0, 1) + pool_unref(0)
    s["basic"] = p

    p = create(1, GRAY8, 16, 16, mx=9)
    for i in range(9):
        p += acquire(1, i) + scope_add(0, i)
    p += scope_take(0, 0, 3) + scope_take(0, 1, 0) + scope_add(1, 0) + scope_end(0)
    p += refcount(0) + unref(0) + scope_end(1) + scope_end(1) + trim(1)
    s["scopes"] = p

    p = create(2, NV12, 32, 16, mx=2, flags=POISON)
    p += acquire(2, 0) + acquire(2, 1) + acquire(2, 2) + unref(0) + double_unref(2, 0, 0)
    p += double_unref(2, 0, 1) + foreign_copy(0, 1) + foreign_copy(1, 1) + foreign_copy(2, 1)
    p += foreign_copy(3, 1, 0) + foreign_copy(4, 1, 1) + foreign_garbage(0) + foreign_garbage(1, 0)
    p += close(2) + acquire(2, 5) + export(2, 0) + pool_unref(2) + unref(1) + double_unref(2, 0, 0)
    s["misuse"] = p

    p = create(0, RAW, raw_size=1000, mx=3, mn=3, flags=ZERO | POISON)
    p += create(1, BGRA, 33, 17, align_log2=4, mx=2, flags=NO_TRACK)
    p += create(2, YUYV, 64, 2, align_log2=0, mx=5, mn=2)
    p += create(3, P010, 130, 66, align_log2=9, mx=1)
    p += checkpoint(0) + acquire(0, 0) + acquire(1, 1) + acquire(2, 2) + acquire(3, 3)
    p += tag(0, "stream-7") + tag(2, "x" * 40) + long_lived(2) + checkpoint(0, 0) + checkpoint(2)
    p += acquire(2, 4) + checkpoint(2, 0) + watchdog(0) + watchdog(1) + watchdog(2, 0)
    p += write(0, 0xA5) + write(3, 1) + export(0, 2) + export(0, 3) + trim(2) + trim(0)
    p += pool_unref(1) + pool_unref(2) + export(0, 3) + unref(1) + unref(2) + unref(4)
    p += pool_unref(0) + pool_unref(3)
    s["multipool"] = p

    p = []
    # invalid: format NONE, max 0, min > max, odd yuyv width, huge dims, bad align, unknown flag
    p += create_raw_bytes(0, 0, 0, [10, 0, 10, 0, 6, 4, 1, 0, 1])
    p += create(0, YUV420P, 64, 64, mx=0)
    p += create(0, YUV420P, 64, 64, mx=2, mn=3)
    p += create(0, YUYV, 33, 8, mx=2)
    p += create_raw_bytes(0, YUV420P, 0, [255, 255, 6, 4, 1, 0, 1])
    p += create_raw_bytes(0, GRAY8, 0, [10, 0, 10, 0, 0x83, 4, 1, 0, 1])
    p += create_raw_bytes(0, GRAY8, 0, [10, 0, 10, 0, 6, 4, 1, 0x80, 1])
    p += create_raw_bytes(0, RAW, 0, [0, 0, 6, 4, 1, 0, 1])
    p += create_raw_bytes(0, GRAY8, 0x40, [10, 0, 10, 0, 7, 6, 4, 1, 0, 1])
    p += create(0, RGBA, 8, 8, mx=9, mn=9) + create(0, GRAY8, 8, 8) + acquire(0) + pool_unref(0)
    s["configs"] = p

    # Regression: an untracked pool kept the previous owner's tag, long-lived
    # mark and sequence number on re-acquire (fixed in lib/pool.c).
    p = create(0, GRAY8, 8, 8, mx=1, flags=NO_TRACK)
    p += acquire(0, 0) + tag(0, "old-owner") + long_lived(0) + unref(0)
    p += checkpoint(0) + acquire(0, 0) + checkpoint(0, 0) + unref(0) + pool_unref(0)
    s["notrack-reacquire"] = p
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, prog in seeds().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes(b & 0xFF for b in prog))
    print("wrote %d seeds to %s" % (len(seeds()), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
