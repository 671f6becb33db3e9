#!/usr/bin/env python3
"""CPU and memory of every mesh process of a hub over a window (bench/pool.sh).

usage: pool_procs.py POSTMASTER_PID SECONDS [INTERVAL]

Mesh processes: the postmaster's children whose title starts with
"postgres: mesh" (launcher, metrics, database workers, delivery helpers).
Every INTERVAL (0.5 s) seconds the list is read again; a process's CPU is
its utime + stime at its last sample minus that at the window's start (0 if
it started later), so a helper that exits loses at most one interval.
Memory per sample: the sum over the processes of RssAnon (/proc/PID/status,
private anonymous memory) and of Pss (/proc/PID/smaps_rollup, which also
counts a share of the shared buffers each touched).

Prints one line: cpu_s=.. procs=.. rss_anon_mb_mean=.. rss_anon_mb_max=..
pss_mb_mean=.. pss_mb_max=.. by_type=TYPE:cpu_s,...
"""
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def mesh_processes(postmaster):
    """{pid: title} of the postmaster's mesh children."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            if int(stat[stat.rindex(")") + 2:].split()[1]) != postmaster:
                continue
            with open(f"/proc/{name}/cmdline") as f:
                title = f.read().replace("\0", " ").strip()
        except (OSError, ValueError):
            continue
        if title.startswith("postgres: mesh"):
            found[int(name)] = title
    return found


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])   # utime, stime


def memory_kb(pid):
    anon = pss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                anon = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    return anon, pss


def kind(title):
    """The process type: the title's words up to the first digit or '('."""
    words = []
    for w in title.split()[1:]:
        if w[0].isdigit() or w[0] in "([":
            break
        words.append(w)
    return " ".join(words)


def main():
    postmaster, seconds = int(sys.argv[1]), float(sys.argv[2])
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
    first, last, titles = {}, {}, {}
    anon_samples, pss_samples = [], []
    start = time.monotonic()
    at_start = True
    while True:
        anon_sum = pss_sum = 0
        for pid, title in mesh_processes(postmaster).items():
            try:
                ticks = cpu_ticks(pid)
                anon, pss = memory_kb(pid)
            except (OSError, ValueError):
                continue
            first.setdefault(pid, ticks if at_start else 0)
            last[pid] = ticks
            titles[pid] = title
            anon_sum += anon
            pss_sum += pss
        at_start = False
        anon_samples.append(anon_sum)
        pss_samples.append(pss_sum)
        left = start + seconds - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(interval, left))
    by_type = {}
    for pid in last:
        k = kind(titles[pid])
        by_type[k] = by_type.get(k, 0) + (last[pid] - first[pid]) / HZ
    cpu = sum(by_type.values())
    mb = 1024.0
    print(f"cpu_s={cpu:.2f} procs={len(last)} "
          f"rss_anon_mb_mean={sum(anon_samples) / len(anon_samples) / mb:.1f} "
          f"rss_anon_mb_max={max(anon_samples) / mb:.1f} "
          f"pss_mb_mean={sum(pss_samples) / len(pss_samples) / mb:.1f} "
          f"pss_mb_max={max(pss_samples) / mb:.1f} "
          "by_type=" + ",".join(f"{k.replace(' ', '_')}:{v:.2f}" for k, v in sorted(by_type.items())))


if __name__ == "__main__":
    main()
