-- servers: clickhouse
-- ClickHouse reads: IMPORT FOREIGN SCHEMA and its type mapping, pushdown
-- of quals (EXPLAIN VERBOSE shows the SQL; results equal the native query
-- and PostgreSQL's own evaluation of a local copy), generic plans, ORDER
-- BY / LIMIT and aggregate pushdown.
\getenv ch_port MESH_CLICKHOUSE_PORT
\set ch_url 'http://127.0.0.1:' :ch_port
CREATE SERVER ch_scan_admin FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url');
CREATE SERVER ch_scan FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url', database 'mesh_scan');
SELECT * FROM mesh.execute('ch_scan_admin', 'DROP DATABASE IF EXISTS mesh_scan');
SELECT * FROM mesh.execute('ch_scan_admin', 'CREATE DATABASE mesh_scan');

-- 1000 rows; v has NULLs (every 50th) and NaNs (every 97th)
SELECT * FROM mesh.execute('ch_scan', $$
	CREATE TABLE readings (id Int32, sensor String, v Nullable(Float64), ts DateTime,
		day Date, amount Decimal(12, 2), ok UInt8, tags Array(String), big UInt64)
	ENGINE = MergeTree ORDER BY id$$);
SELECT * FROM mesh.execute('ch_scan', $$
	INSERT INTO readings SELECT number, concat('s', toString(number % 7)),
		if(number % 50 = 0, NULL, if(number % 97 = 0, nan, (number % 13) * 1.25 - 3)),
		toDateTime(1767225600 + number * 37), toDate('2026-01-01') + intDiv(number, 100),
		CAST(number * 0.25 AS Decimal(12, 2)), number % 3 = 0, ['t', toString(number % 4)],
		18446744073709551615 - number
	FROM system.numbers LIMIT 1000$$);
SELECT * FROM mesh.execute('ch_scan', $$
	CREATE TABLE types (i8 Int8, u16 UInt16, u32 UInt32, u64 UInt64, i64 Int64, f32 Float32,
		dec Decimal(20, 5), fs FixedString(4), ns Nullable(String), e Enum8('a' = 1, 'b' = 2),
		arr Array(Nullable(Int32)), nested Array(Array(Int8)), u UUID, d Date,
		dt DateTime('Europe/Berlin'), tup Tuple(Int8, String))
	ENGINE = Memory$$);
SELECT * FROM mesh.execute('ch_scan', $$
	INSERT INTO types VALUES (-8, 65535, 4294967295, 18446744073709551615, -9223372036854775808,
		0.1, -12345678901234.56789, 'ab', NULL, 'b', [1, NULL, -3], [[1], [2, 3]],
		'61f0c404-5cb3-11e7-907b-a6006ad3dba0', '2105-12-31', 1767225600, (1, 'x'))$$);

-- IMPORT FOREIGN SCHEMA: one foreign table per ClickHouse table
CREATE SCHEMA chs;
IMPORT FOREIGN SCHEMA mesh_scan FROM SERVER ch_scan INTO chs;
\d chs.readings
\d chs.types
SELECT * FROM chs.types;
IMPORT FOREIGN SCHEMA mesh_scan LIMIT TO (types) FROM SERVER ch_scan_admin INTO public;
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'public.types'::regclass;
IMPORT FOREIGN SCHEMA no_such_db FROM SERVER ch_scan INTO public;
SET search_path = chs, public;

-- a local copy: PostgreSQL's own answers to compare with
CREATE TEMP TABLE local AS SELECT * FROM readings;
SELECT count(*), count(v), sum(id), min(ts), max(ts), sum(amount), min(big) FROM local;
SELECT * FROM readings WHERE id IN (0, 1, 97, 998) ORDER BY id;

-- each pushed qual: EXPLAIN shows the ClickHouse condition; the rows are
-- those PostgreSQL keeps from the local copy
CREATE FUNCTION same_ids(cond text) RETURNS TABLE(remote bigint, local bigint, same boolean)
LANGUAGE plpgsql AS $$
DECLARE r int[]; l int[];
BEGIN
	EXECUTE format('SELECT array_agg(id ORDER BY id) FROM readings WHERE %s', cond) INTO r;
	EXECUTE format('SELECT array_agg(id ORDER BY id) FROM local WHERE %s', cond) INTO l;
	RETURN QUERY SELECT cardinality(r)::bigint, cardinality(l)::bigint, r IS NOT DISTINCT FROM l;
END $$;
CREATE FUNCTION remote_sql(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
		IF line LIKE '%Remote request:%' THEN RETURN NEXT trim(line); END IF;
	END LOOP;
END $$;
SELECT c AS cond, (same_ids(c)).*, remote_sql('SELECT id FROM readings WHERE ' || c)
FROM unnest(ARRAY[
	'id = 5', 'id <> 5', 'id < 10', 'id >= 990', 'id IN (1, 2, 3, NULL)', 'id = ANY (''{}'')',
	'id = NULL', 'sensor = ''s3''', 'sensor IN (''s1'', ''s9'')', 'sensor LIKE ''s_''',
	'sensor LIKE ''%3''', 'sensor <> ''s0''', 'sensor > ''s5''', 'sensor COLLATE "C" > ''s5''',
	'v > 10', 'v >= 10', 'v < -2', 'v <= -2', 'v = 3.25', 'v <> 3.25',
	'v = ''NaN''', 'v <> ''NaN''', 'v > ''NaN''', 'v >= ''NaN''', 'v < ''NaN''', 'v <= ''NaN''',
	'v IN (3.25, ''NaN'')', 'v IS NULL', 'v IS NOT NULL',
	'ts = ''2026-01-01 00:00:37+00''', 'ts < ''2026-01-01 00:01:14.5+00''',
	'ts > ''2026-01-01 00:01:14.5+00'' AND ts < ''2026-01-01 00:02:00+00''',
	'ts = ''2026-01-01 00:00:37.5+00''', 'ts > ''1960-01-01 00:00+00''', 'ts < ''1960-01-01 00:00+00''',
	'ts <= ''infinity''', 'day = ''2026-01-05''', 'day > ''1900-01-01''', 'day < ''2200-01-01''',
	'day IN (''2026-01-02'', ''1900-01-01'')', 'amount > 200.5', 'amount = 10.25',
	'amount < ''NaN''', 'ok = 1', 'ok = 0', 'big > 18446744073709551000'
]) c;

-- the same conditions sent natively give the same rows
SELECT (SELECT array_agg(id ORDER BY id) FROM readings WHERE v > 10) =
	(SELECT array_agg((r->>'id')::int ORDER BY (r->>'id')::int)
	 FROM mesh.execute('ch_scan', 'SELECT id FROM readings WHERE v > 10 OR isNaN(v)') r) AS same_as_native;
SELECT (SELECT array_agg(id ORDER BY id) FROM readings WHERE sensor LIKE 's_' AND ts < '2026-01-01 00:05:00+00') =
	(SELECT array_agg((r->>'id')::int ORDER BY (r->>'id')::int)
	 FROM mesh.execute('ch_scan', $$SELECT id FROM readings WHERE sensor LIKE 's_' AND ts < toDateTime('2026-01-01 00:05:00', 'UTC')$$) r)
	AS same_as_native;
-- round trips are counted
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM readings WHERE id = 1;

-- generic plans keep the pushdown: the parameter is sent at execution
SET plan_cache_mode = force_generic_plan;
PREPARE by_id(int) AS SELECT id, sensor FROM readings WHERE id = $1;
EXECUTE by_id(1);
EXECUTE by_id(2);
EXECUTE by_id(3);
EXECUTE by_id(4);
EXECUTE by_id(5);
EXECUTE by_id(6);
EXECUTE by_id(7);
EXECUTE by_id(8);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_id(9);
PREPARE since(timestamptz, int) AS SELECT count(*) FROM readings WHERE ts >= $1 AND id < $2;
EXECUTE since('2026-01-01 00:10:00+00', 100);
EXECUTE since('2026-01-01 00:10:00.5+00', 100);
EXECUTE since('2026-01-01 00:10:00+00', 500);
EXECUTE since(NULL, 100);
EXECUTE since('2026-01-01 00:10:00+00', 100);
EXECUTE since('1969-12-31 00:00:00+00', 10);
EXECUTE since('2026-01-01 00:10:00+00', 100);
EXECUTE since('2026-01-01 00:10:00+00', 100);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE since('2026-01-01 00:10:00+00', 100);
RESET plan_cache_mode;
-- a join sends the outer value per outer row (parameterized path)
CREATE TEMP TABLE wanted (id int);
INSERT INTO wanted VALUES (3), (30), (300);
ANALYZE wanted;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
EXPLAIN (VERBOSE, COSTS OFF) SELECT w.id, r.sensor FROM wanted w JOIN readings r ON r.id = w.id;
SELECT w.id, r.sensor FROM wanted w JOIN readings r ON r.id = w.id ORDER BY w.id;
RESET enable_hashjoin;
RESET enable_mergejoin;

-- ORDER BY and LIMIT: pushed when the sort is exact (numbers, timestamps,
-- text in collation "C"); NaN sorts as PostgreSQL sorts it
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, v FROM readings ORDER BY v DESC, id LIMIT 5;
SELECT id, v FROM readings ORDER BY v DESC NULLS LAST, id LIMIT 12;
SELECT id, v FROM local ORDER BY v DESC NULLS LAST, id LIMIT 12;
SELECT id, v FROM readings ORDER BY v NULLS FIRST, id LIMIT 3 OFFSET 18;
SELECT id, v FROM local ORDER BY v NULLS FIRST, id LIMIT 3 OFFSET 18;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM readings ORDER BY sensor, id LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM readings ORDER BY sensor COLLATE "C", id LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM readings WHERE v + 1 > 2 LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM readings LIMIT 3 OFFSET 2;
-- a LIMIT without ORDER BY is sent too (the backend stops by itself)
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM readings LIMIT 3;
SELECT id FROM readings ORDER BY id LIMIT 3 OFFSET 2;

-- aggregates with GROUP BY and date_bin buckets, computed remotely as
-- PostgreSQL computes them: compared with the local copy
EXPLAIN (VERBOSE, COSTS OFF)
SELECT sensor, count(*), count(v), sum(id), sum(amount), avg(id), avg(amount), min(v), max(v),
	min(ts), max(day) FROM readings WHERE id < 900 GROUP BY sensor;
SELECT count(*) AS differing FROM (
	(SELECT sensor, count(*), count(v), sum(id), sum(amount), avg(id), avg(amount), min(v), max(v),
		min(ts), max(day) FROM readings WHERE id < 900 GROUP BY sensor
	 EXCEPT ALL
	 SELECT sensor, count(*), count(v), sum(id), sum(amount), avg(id), avg(amount), min(v), max(v),
		min(ts), max(day) FROM local WHERE id < 900 GROUP BY sensor)
	UNION ALL
	(SELECT sensor, count(*), count(v), sum(id), sum(amount), avg(id), avg(amount), min(v), max(v),
		min(ts), max(day) FROM local WHERE id < 900 GROUP BY sensor
	 EXCEPT ALL
	 SELECT sensor, count(*), count(v), sum(id), sum(amount), avg(id), avg(amount), min(v), max(v),
		min(ts), max(day) FROM readings WHERE id < 900 GROUP BY sensor)) d;
SELECT sensor, count(*), sum(id), avg(amount), min(v), max(v) FROM readings
	WHERE id < 900 GROUP BY sensor ORDER BY sensor;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT date_bin('10 minutes', ts, '1970-01-01 00:00+00') AS bucket, count(*), max(v)
FROM readings GROUP BY bucket ORDER BY bucket LIMIT 4;
SELECT date_bin('10 minutes', ts, '1970-01-01 00:00+00') AS bucket, count(*), max(v)
FROM readings GROUP BY bucket ORDER BY bucket LIMIT 4;
SELECT date_bin('10 minutes', ts, '1970-01-01 00:00+00') AS bucket, count(*), max(v)
FROM local GROUP BY bucket ORDER BY bucket LIMIT 4;
SELECT date_bin('2.5 seconds', ts, '1970-01-01 00:00+00') AS bucket, count(*)
FROM readings WHERE id < 3 GROUP BY bucket ORDER BY bucket;
-- without GROUP BY, over no rows: count 0, the others NULL
SELECT count(*), sum(id), avg(id), min(v), max(ts) FROM readings WHERE id > 5000;
SELECT count(*), sum(id), avg(id), min(v), max(ts) FROM readings WHERE id = NULL;
-- not exact in ClickHouse: computed here
EXPLAIN (VERBOSE, COSTS OFF) SELECT sum(v), avg(v) FROM readings;
SELECT sum(v) IS NOT DISTINCT FROM (SELECT sum(v) FROM local) AS same_nan_sum FROM readings;
EXPLAIN (VERBOSE, COSTS OFF) SELECT sensor, count(*) FROM readings GROUP BY sensor ORDER BY count(*) DESC, sensor LIMIT 2;
SELECT sensor, count(*) FROM readings GROUP BY sensor ORDER BY count(*) DESC, sensor LIMIT 2;

RESET search_path;
DROP FUNCTION same_ids(text), remote_sql(text);
DROP SCHEMA chs CASCADE;
DROP SERVER ch_scan, ch_scan_admin CASCADE;
