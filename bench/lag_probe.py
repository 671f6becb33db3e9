#!/usr/bin/env python3
"""Commit-to-visible lag in Redis, measured by an outside client.

Inserts rows into a replicated table at a steady rate (one transaction per
row, autocommit) and, in a second thread, polls Redis with pipelined EXISTS
for the keys committed but not seen yet. Lag of a row = first time its key
exists in Redis - time its COMMIT returned. Prints p50, p90, p99, max (ms).

usage: lag_probe.py PG_DSN REDIS_PORT TABLE KEY_PREFIX RATE SECONDS
"""
import sys
import threading
import time

import psycopg2
import redis

dsn, rport, table, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rate, seconds = float(sys.argv[5]), float(sys.argv[6])

pending = {}          # id -> commit time
seen = {}             # id -> lag (s)
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


conn = psycopg2.connect(dsn)
conn.autocommit = True
cur = conn.cursor()
t = threading.Thread(target=watcher)
t.start()
start = time.monotonic()
n = int(rate * seconds)
for i in range(1, n + 1):
    due = start + i / rate
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    cur.execute(f"INSERT INTO {table} (id, sensor, v) VALUES (%s, 'lag', %s)", (i, i * 0.5))
    with lock:
        pending[i] = time.monotonic()
elapsed = time.monotonic() - start
deadline = time.monotonic() + 30
while pending and time.monotonic() < deadline:
    time.sleep(0.01)
done.set()
t.join(timeout=35)
lags = sorted(v * 1000 for v in seen.values())
if not lags or pending:
    print(f"ERROR: {len(pending)} rows never seen in Redis", file=sys.stderr)
    sys.exit(1)


def pct(p):
    return lags[min(len(lags) - 1, int(round(p / 100 * (len(lags) - 1))))]


print(f"rows={len(lags)} rate={n / elapsed:.0f}/s p50={pct(50):.2f} p90={pct(90):.2f} "
      f"p99={pct(99):.2f} max={lags[-1]:.2f}")
