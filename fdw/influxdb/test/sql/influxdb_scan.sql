-- servers: hang influxdb garbage
-- InfluxDB reads: pushdown shown by EXPLAIN, results equal to the same
-- InfluxQL run natively, aggregates, generic plans, malformed queries,
-- garbage and hanging servers, options.
SET TimeZone = 'UTC';
\getenv influx_port MESH_INFLUX_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\getenv hang_port MESH_HANG_PORT
SELECT 'http://127.0.0.1:' || :'influx_port' AS influx_url \gset
CREATE SERVER ifx FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url :'influx_url', database 'mesh_scan');
SELECT * FROM mesh.execute('ifx', 'DROP DATABASE mesh_scan');
SELECT * FROM mesh.execute('ifx', 'CREATE DATABASE mesh_scan');

CREATE FOREIGN TABLE cpu (
	time timestamptz,
	host text OPTIONS (tag 'true'),
	region text OPTIONS (tag 'true'),
	usage double precision NOT NULL,
	n bigint,
	ok boolean,
	note text
) SERVER ifx;
INSERT INTO cpu SELECT '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 s',
	'h' || (g % 3), CASE WHEN g % 4 = 0 THEN NULL ELSE 'r' || (g % 2) END,
	g * 0.25, g, g % 2 = 0, CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END
	FROM generate_series(1, 60) g;
-- a point from before 1970 and one with only some fields
INSERT INTO cpu VALUES ('1969-12-31 23:59:59.5+00', 'h0', NULL, -1, NULL, NULL, NULL);
SELECT count(*), sum(n), min(time), max(time) FROM cpu;

-- time: ranges over whole microseconds (<= t is < t + 1us), = is a range
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM cpu WHERE time >= '2026-01-01 00:00:10+00' AND time <= '2026-01-01 00:00:12+00';
SELECT time, host, n FROM cpu WHERE time >= '2026-01-01 00:00:10+00' AND time <= '2026-01-01 00:00:12+00' ORDER BY time;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM cpu WHERE time = '2026-01-01 00:00:30+00';
SELECT time, n FROM cpu WHERE time = '2026-01-01 00:00:30+00';
SELECT time, n FROM cpu WHERE time > '2026-01-01 00:00:59+00' OR time < '1970-01-01';
SELECT n FROM cpu WHERE time < '1970-01-01' AND time > '-infinity';
-- tags: =, <> (absent tags are NULL and never match), IN, IS [NOT] NULL
EXPLAIN (VERBOSE, COSTS OFF) SELECT n FROM cpu WHERE region <> 'r1' AND host IN ('h1', 'h2', '');
SELECT n FROM cpu WHERE region <> 'r1' AND host IN ('h1', 'h2', '') ORDER BY n;
SELECT count(*) FROM cpu WHERE region IS NULL;
SELECT count(*) FROM cpu WHERE region IS NOT NULL;
SELECT count(*) FROM cpu WHERE region = '';
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cpu WHERE region = '';
-- fields: comparisons on numbers, = and <> on text and booleans
EXPLAIN (VERBOSE, COSTS OFF) SELECT n FROM cpu WHERE n > 50 AND usage <= 14 AND note <> 'n52';
SELECT n FROM cpu WHERE n > 50 AND usage <= 14 AND note <> 'n52' ORDER BY n;
SELECT n FROM cpu WHERE ok = false AND n < 8 ORDER BY n;
SELECT n FROM cpu WHERE usage IN (0.5, 1.25, 99) ORDER BY n;
-- not pushed: LIKE, expressions (rechecked locally)
EXPLAIN (VERBOSE, COSTS OFF) SELECT n FROM cpu WHERE note LIKE 'n1%' AND n + 1 > 3;
SELECT n FROM cpu WHERE note LIKE 'n1%' AND n + 1 > 3 ORDER BY n;

-- the same InfluxQL sent natively gives the same rows
SELECT (r->>'n')::bigint AS n, r->>'host' AS host, r->>'note' AS note
FROM mesh.execute('ifx', 'SELECT "usage"::field, "n"::field, "ok"::field, "note"::field, "host"::tag FROM "cpu" WHERE "host"::tag = ''h1'' AND "n"::field > 50') r
EXCEPT ALL SELECT n, host, note FROM cpu WHERE host = 'h1' AND n > 50;
SELECT n, host, note FROM cpu WHERE host = 'h1' AND n > 50
EXCEPT ALL SELECT (r->>'n')::bigint, r->>'host', r->>'note'
FROM mesh.execute('ifx', 'SELECT "usage"::field, "n"::field, "ok"::field, "note"::field, "host"::tag FROM "cpu" WHERE "host"::tag = ''h1'' AND "n"::field > 50') r;

-- ORDER BY time and LIMIT/OFFSET are sent
EXPLAIN (VERBOSE, COSTS OFF) SELECT time, n FROM cpu ORDER BY time DESC LIMIT 3 OFFSET 1;
SELECT time, n FROM cpu ORDER BY time DESC LIMIT 3 OFFSET 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT n FROM cpu WHERE host = 'h2' LIMIT 2;
SELECT count(*) FROM (SELECT n FROM cpu WHERE host = 'h2' LIMIT 2) s;
-- ORDER BY a field is done locally
EXPLAIN (VERBOSE, COSTS OFF) SELECT n FROM cpu ORDER BY n LIMIT 2;

-- aggregates: count, sum, avg (as mean), min, max, by tags and time buckets
EXPLAIN (VERBOSE, COSTS OFF)
SELECT host, count(*), count(note), sum(n), avg(usage), min(n), max(usage) FROM cpu GROUP BY host;
SELECT host, count(*), count(note), sum(n), avg(usage), min(n), max(usage) FROM cpu GROUP BY host ORDER BY host;
SELECT r - 'time' FROM mesh.execute('ifx', 'SELECT count("usage"::field), count("note"::field), sum("n"::field), mean("usage"::field), min("n"::field), max("usage"::field) FROM "cpu" GROUP BY "host"::tag') r
ORDER BY r->>'host';
-- an absent tag is its own group (NULL), as in PostgreSQL
SELECT region, count(*) FROM cpu GROUP BY region ORDER BY region;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT date_bin('15 seconds', time, '1970-01-01 00:00:00+00') AS b, count(*), sum(n)
FROM cpu WHERE time >= '2026-01-01' GROUP BY b ORDER BY b DESC LIMIT 3;
SELECT date_bin('15 seconds', time, '1970-01-01 00:00:00+00') AS b, count(*), sum(n)
FROM cpu WHERE time >= '2026-01-01' GROUP BY b ORDER BY b DESC LIMIT 3;
-- buckets before 1970 round down, as date_bin does
SELECT date_bin('1 second', time, '1970-01-01 00:00:00+00') AS b, count(*) FROM cpu
WHERE time < '2026-01-01' GROUP BY b;
-- every group with rows shows, even when the aggregated field is NULL in it
SELECT date_bin('1 minute', time, '1970-01-01 00:00:00+00') AS b, host, sum(n)
FROM cpu GROUP BY b, host ORDER BY b, host;
-- without GROUP BY, an empty input still gives one row
SELECT count(*), sum(n), max(usage) FROM cpu WHERE host = 'nobody';
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*), sum(n), max(usage) FROM cpu WHERE host = 'nobody';
-- not exact in InfluxQL, so computed locally: avg of integers (a numeric),
-- sum of a text, a qual that is not pushed
EXPLAIN (VERBOSE, COSTS OFF) SELECT avg(n) FROM cpu;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cpu WHERE note LIKE 'n%';
SELECT avg(n) FROM cpu;
-- count(*) needs a field every point has: usage is declared NOT NULL
CREATE FOREIGN TABLE cpu_loose (time timestamptz, host text OPTIONS (tag 'true'), usage float8, n bigint)
	SERVER ifx OPTIONS (measurement 'cpu');
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cpu_loose;
SELECT count(*) FROM cpu_loose;

-- parameters are pushed, also in generic plans (8 executions)
PREPARE q(text, timestamptz) AS SELECT count(*), sum(n) FROM cpu WHERE host = $1 AND time >= $2;
EXECUTE q('h1', '2026-01-01 00:00:30+00');
EXECUTE q('h1', '2026-01-01 00:00:30+00');
EXECUTE q('h1', '2026-01-01 00:00:30+00');
EXECUTE q('h1', '2026-01-01 00:00:30+00');
EXECUTE q('h1', '2026-01-01 00:00:30+00');
EXECUTE q('h1', '2026-01-01 00:00:30+00');
EXECUTE q('h1', '2026-01-01 00:00:30+00');
EXECUTE q('h2', '2026-01-01 00:00:30+00');
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q('h1', '2026-01-01 00:00:30+00');
EXECUTE q(NULL, '2026-01-01 00:00:30+00');
PREPARE r(bigint) AS SELECT time, n FROM cpu WHERE n = $1;
EXECUTE r(1); EXECUTE r(2); EXECUTE r(3); EXECUTE r(4); EXECUTE r(5); EXECUTE r(6); EXECUTE r(7);
EXECUTE r(8);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE r(8);
-- a join sends the outer values per row
CREATE TEMP TABLE wanted (h text);
INSERT INTO wanted VALUES ('h0'), ('h2');
SELECT w.h, count(*) FROM wanted w JOIN cpu c ON c.host = w.h GROUP BY w.h ORDER BY w.h;
-- round trips are counted
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM cpu WHERE host = 'h1';

-- errors: InfluxDB's own message
SELECT * FROM mesh.execute('ifx', 'SELEC * FROM cpu');
SELECT * FROM mesh.execute('ifx', 'SELECT nosuch("usage") FROM cpu');
SELECT * FROM mesh.execute('ifx', 'SELECT * FROM cpu LIMIT 1; SELECT bad(x) FROM cpu');
CREATE FOREIGN TABLE elsewhere (time timestamptz, v float8) SERVER ifx OPTIONS (database 'mesh_no_such_db');
SELECT * FROM elsewhere;
-- a column of the wrong type: the column and value are named
CREATE FOREIGN TABLE cpu_badtype (time timestamptz, note integer) SERVER ifx OPTIONS (measurement 'cpu');
SELECT * FROM cpu_badtype;
-- a server answering garbage, and one that never answers
SELECT 'http://127.0.0.1:' || :'garbage_port' AS garbage_url \gset
CREATE SERVER garbage FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url :'garbage_url', database 'x');
CREATE FOREIGN TABLE g (time timestamptz, v float8) SERVER garbage;
SELECT * FROM g;
SELECT * FROM mesh.execute('garbage', 'SHOW DATABASES');
SELECT 'http://127.0.0.1:' || :'hang_port' AS hang_url \gset
CREATE SERVER hang FOREIGN DATA WRAPPER mesh_influxdb
	OPTIONS (url :'hang_url', database 'x', timeout_ms '500');
CREATE FOREIGN TABLE h (time timestamptz, v float8) SERVER hang;
SELECT clock_timestamp() AS t0 \gset
SELECT * FROM h;
SELECT clock_timestamp() - :'t0'::timestamptz BETWEEN interval '0.4 s' AND interval '3 s' AS bounded_by_timeout;
SELECT server, ok, version IS NOT NULL AS has_version, error IS NULL AS no_error
FROM mesh.health(2000) WHERE server IN ('ifx', 'garbage', 'hang') ORDER BY server;
SELECT version FROM mesh.health() WHERE server = 'ifx' AND version LIKE '1.%';

-- options
CREATE SERVER bad1 FOREIGN DATA WRAPPER mesh_influxdb OPTIONS (precision 'minutes');
CREATE SERVER bad2 FOREIGN DATA WRAPPER mesh_influxdb OPTIONS (databse 'x');
CREATE SERVER bad3 FOREIGN DATA WRAPPER mesh_influxdb OPTIONS (token 'secret');
CREATE SERVER nodb FOREIGN DATA WRAPPER mesh_influxdb OPTIONS (url :'influx_url');
CREATE FOREIGN TABLE nodb_t (time timestamptz, v float8) SERVER nodb;
SELECT * FROM nodb_t;
CREATE FOREIGN TABLE badtime (time integer, v float8) SERVER ifx;
SELECT * FROM badtime;
CREATE FOREIGN TABLE badtag (time timestamptz, t text OPTIONS (tag 'maybe'), v float8) SERVER ifx;
CREATE FOREIGN TABLE twotimes (time timestamptz, t2 timestamptz OPTIONS (time 'true'), t3 timestamptz OPTIONS (time 'true'), v float8) SERVER ifx;
SELECT * FROM twotimes;
-- a token in the user mapping is never shown
CREATE USER MAPPING FOR CURRENT_USER SERVER ifx OPTIONS (token 'not-a-real-token');
SELECT count(*) FROM cpu;
SELECT regexp_replace(options::text, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g')::jsonb AS options FROM mesh.backends() WHERE server = 'ifx';
DROP USER MAPPING FOR CURRENT_USER SERVER ifx;
-- leave nothing behind for the suites that follow
SET client_min_messages = warning;
DROP SERVER ifx, garbage, hang, nodb CASCADE;
RESET client_min_messages;
