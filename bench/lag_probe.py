#!/usr/bin/env python3
"""Commit-to-visible lag in Redis, measured by an outside client.

Inserts rows into a replicated table at a steady rate (one transaction per
row, autocommit) and, in a second thread, polls Redis with pipelined EXISTS
for the keys committed but not seen yet. Lag of a row = first time its key
exists in Redis - time its COMMIT returned. Prints p50, p90, p99, max (ms).

With EXPLAIN set to "explain", a third thread samples the hub every 50 ms
(vacuums in progress, checkpoint buffers written, WAL not yet decoded by
mesh's slot) and the rows slower than the p99 are told apart by what ran
while they waited; that and the worst lag of each second go to stderr.

usage: lag_probe.py PG_DSN REDIS_PORT TABLE KEY_PREFIX RATE SECONDS [explain]
"""
import sys
import threading
import time

import psycopg2
import redis

dsn, rport, table, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rate, seconds = float(sys.argv[5]), float(sys.argv[6])
explain = len(sys.argv) > 7 and sys.argv[7] == "explain"

pending = {}          # id -> commit time
seen = {}             # id -> lag (s)
committed = {}        # id -> commit time
samples = []          # (time, vacuums, checkpoint buffers, undecoded WAL bytes)
lock = threading.Lock()
done = threading.Event()


def watcher():
    r = redis.Redis(host="127.0.0.1", port=rport)
    while not (done.is_set() and not pending):
        with lock:
            ids = list(pending.keys())
        if not ids:
            time.sleep(0.0002)
            continue
        pipe = r.pipeline(transaction=False)
        for i in ids:
            pipe.exists(f"{prefix}{i}")
        found = pipe.execute()
        now = time.monotonic()
        with lock:
            for i, f in zip(ids, found):
                if f:
                    seen[i] = now - pending.pop(i)


def sampler():
    c = psycopg2.connect(dsn)
    c.autocommit = True
    cur = c.cursor()
    while not done.is_set():
        cur.execute("""SELECT (SELECT string_agg(relid::regclass::text || ' ' || phase, ', ')
                                 FROM pg_stat_progress_vacuum),
                              (SELECT buffers_checkpoint FROM pg_stat_bgwriter),
                              (SELECT max(pg_current_wal_lsn() - confirmed_flush_lsn)
                                 FROM pg_replication_slots WHERE slot_name LIKE 'mesh%%')""")
        vac, ckpt, undecoded = cur.fetchone()
        samples.append((time.monotonic(), vac or "", ckpt, undecoded))
        time.sleep(0.05)


def why(t0, t1):
    """What ran between t0 and t1 (from the samples around it)."""
    near = [s for s in samples if t0 - 0.05 <= s[0] <= t1 + 0.05]
    if len(near) < 2:
        return "unsampled"
    what = set()
    if near[-1][2] > near[0][2]:
        what.add("checkpoint writing")
    for s in near:
        if s[1]:
            what.add("vacuum " + s[1].split(" ")[0])
    if max((s[3] or 0) for s in near) > 1 << 20:
        what.add("decoder > 1 MB behind")
    return ", ".join(sorted(what)) or "nothing sampled"


conn = psycopg2.connect(dsn)
conn.autocommit = True
cur = conn.cursor()
t = threading.Thread(target=watcher)
t.start()
if explain:
    st = threading.Thread(target=sampler)
    st.start()
start = time.monotonic()
n = int(rate * seconds)
for i in range(1, n + 1):
    due = start + i / rate
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    cur.execute(f"INSERT INTO {table} (id, sensor, v) VALUES (%s, 'lag', %s)", (i, i * 0.5))
    with lock:
        pending[i] = committed[i] = time.monotonic()
elapsed = time.monotonic() - start
deadline = time.monotonic() + 30
while pending and time.monotonic() < deadline:
    time.sleep(0.01)
done.set()
t.join(timeout=35)
if explain:
    st.join(timeout=5)
lags = sorted(v * 1000 for v in seen.values())
if not lags or pending:
    print(f"ERROR: {len(pending)} rows never seen in Redis", file=sys.stderr)
    sys.exit(1)


def pct(p):
    return lags[min(len(lags) - 1, int(round(p / 100 * (len(lags) - 1))))]


print(f"rows={len(lags)} rate={n / elapsed:.0f}/s p50={pct(50):.2f} p90={pct(90):.2f} "
      f"p99={pct(99):.2f} max={lags[-1]:.2f}")
if explain:
    p99 = pct(99)
    causes = {}
    for i, lag in seen.items():
        if lag * 1000 >= p99:
            c = why(committed[i], committed[i] + lag)
            causes[c] = causes.get(c, 0) + 1
    print(f"rows at or above p99 ({p99:.1f} ms), by what ran while they waited:", file=sys.stderr)
    for c, k in sorted(causes.items(), key=lambda x: -x[1]):
        print(f"  {k:5d}  {c}", file=sys.stderr)
    worst = {}
    for i, lag in seen.items():
        sec = int(committed[i] - start)
        worst[sec] = max(worst.get(sec, 0), lag * 1000)
    print("worst lag per second (ms): " + " ".join(f"{worst[k]:.0f}" for k in sorted(worst)),
          file=sys.stderr)
