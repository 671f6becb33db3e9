#!/usr/bin/env python3
"""Commit-to-delivered lag per event of bench/pool.sh's runs.

usage: pool_lag.py ROUTES TICKS REDIS_ARRIVALS PG_ARRIVALS FROM_US TO_US

ROUTES          "DBNAME redis|pg T" per measured route: table r_T (Redis, keys
                pool:DBNAME:T:ID) or DBNAME_pT (remote PostgreSQL)
TICKS           bench/pool_load.c's output, "DBNAME ID COMMIT_US": every
                route of DBNAME got the row ID in that commit
REDIS_ARRIVALS  bench/redis_arrivals.c's output, "KEY EVENT US"
PG_ARRIVALS     "DBNAME T ID US", US = the remote row's arrived column
                (clock_timestamp() when the remote INSERT ran)

The events are those of the ticks committed in [FROM_US, TO_US); an event's
lag is its first arrival minus its commit; an event that never arrived
counts as an infinite lag ("inf" when a percentile lands there).  Prints: window_events=N missing=N
p50=.. p90=.. p99=.. max=.. (ms, over every event) routes=N
route_p99_median=.. route_p99_max=.. (ms, each route's own p99).
"""
import sys


def pct(values, p):
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    routes_file, ticks_file, redis_file, pg_file = sys.argv[1:5]
    lo, hi = int(sys.argv[5]), int(sys.argv[6])
    routes = {}
    with open(routes_file) as f:
        for line in f:
            db, kind, t = line.split()
            routes.setdefault(db, []).append((kind, t))
    arrived = {}
    with open(redis_file) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            key, us = parts[0], int(parts[2])
            if key not in arrived or us < arrived[key]:
                arrived[key] = us
    with open(pg_file) as f:
        for line in f:
            db, t, i, us = line.split()
            arrived[f"pg:{db}:{t}:{i}"] = int(float(us))
    all_lags, per_route, missing = [], {}, 0
    with open(ticks_file) as f:
        for line in f:
            db, i, commit = line.split()
            commit = int(float(commit))
            if not lo <= commit < hi:
                continue
            for kind, t in routes.get(db, []):
                key = f"pool:{db}:{t}:{i}" if kind == "redis" else f"pg:{db}:{t}:{i}"
                if key not in arrived:
                    missing += 1
                lag = (arrived[key] - commit) / 1000.0 if key in arrived else float("inf")
                all_lags.append(lag)
                per_route.setdefault((db, kind, t), []).append(lag)
    if not all_lags:
        print("window_events=0 missing=0")
        return
    all_lags.sort()
    route_p99 = sorted(pct(sorted(v), 99) for v in per_route.values())
    print(f"window_events={len(all_lags)} missing={missing} "
          f"p50={pct(all_lags, 50):.1f} p90={pct(all_lags, 90):.1f} p99={pct(all_lags, 99):.1f} "
          f"max={all_lags[-1]:.1f} routes={len(per_route)} "
          f"route_p99_median={pct(route_p99, 50):.1f} route_p99_max={route_p99[-1]:.1f}")


if __name__ == "__main__":
    main()
