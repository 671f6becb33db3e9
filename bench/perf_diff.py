#!/usr/bin/env python3
"""bench/perf_diff.py A.data ROWS_A B.data ROWS_B [N]: CPU per row of two
`perf record -g` recordings (e.g. the backends of an unreplicated and a
trigger-captured table), inclusive and self, per function, the N (45)
largest differences first; us per row = samples / frequency (999 Hz) / rows.
Recordings as made for README "## Performance" (issue 17, capture cost):
  perf record -F 999 -g -p PIDS -o A.data -- sleep 6   (beside pgbench -T 12)
"""
import collections
import subprocess
import sys

HZ = 999


def load(data):
    out = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym"],
                         capture_output=True, text=True, check=True).stdout
    inc, own, n, stack = collections.Counter(), collections.Counter(), 0, []
    for line in out.split("\n") + [""]:
        line = line.strip()
        if line:
            parts = line.split(None, 1)
            stack.append((parts[1] if len(parts) > 1 else parts[0]).split("+0x")[0])
            continue
        if stack:
            inc.update(set(stack))
            own[stack[0]] += 1
            n += 1
        stack = []
    return inc, own, n


def main():
    a, a_own, na = load(sys.argv[1])
    ra = int(sys.argv[2])
    b, b_own, nb = load(sys.argv[3])
    rb = int(sys.argv[4])
    top = int(sys.argv[5]) if len(sys.argv) > 5 else 45
    us = 1e6 / HZ
    print(f"total: A {na * us / ra:.2f} us/row, B {nb * us / rb:.2f} us/row, "
          f"difference {nb * us / rb - na * us / ra:+.2f}")
    for title, x, y in (("inclusive", a, b), ("self", a_own, b_own)):
        print(f"== {title}: B-A, A, B (us/row)")
        rows = [(y[f] * us / rb - x[f] * us / ra, x[f] * us / ra, y[f] * us / rb, f)
                for f in set(x) | set(y)]
        rows.sort(key=lambda r: -abs(r[0]))
        for d, va, vb, f in rows[:top]:
            print(f"  {d:+7.3f}  {va:7.3f} {vb:7.3f}  {f}")


if __name__ == "__main__":
    main()
