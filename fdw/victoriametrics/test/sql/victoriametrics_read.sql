-- servers: victoria
-- mesh_victoriametrics reads: the Prometheus query API code (fdw/prometheus)
-- against the harness's VictoriaMetrics 1.79.  The series are written here
-- with fixed values at fixed times (a few minutes ago, so VictoriaMetrics
-- answers from raw data, not its response cache), through its import API.
\getenv vm_port MESH_VM_PORT
\set vm_url 'http://127.0.0.1:' :vm_port
CREATE SERVER vm FOREIGN DATA WRAPPER mesh_victoriametrics OPTIONS (url :'vm_url');

-- t0: a whole minute three to four minutes ago; samples at t0 + 0/15/30/45 s
SELECT date_trunc('minute', now() - interval '3 minutes') AS t0 \gset
SELECT :'t0'::timestamptz + interval '15 s' AS t15, :'t0'::timestamptz + interval '30 s' AS t30,
	   :'t0'::timestamptz + interval '45 s' AS t45 \gset
CREATE TEMP TABLE vm_t0 AS SELECT :'t0'::timestamptz AS t0;

-- series of mesh_test_temp: a sensor label and a hostile site label
CREATE TEMP TABLE vm_series (n int, sensor text, site text);
INSERT INTO vm_series VALUES
	(1, 's1', 'plain'),
	(2, 's2', 'x"} or vector(1) #'),
	(3, 's3', E'back\\slash "quoted" \'single\''),
	(4, 's4', E'line1\nline2\ttab\rcr'),
	(5, 's5', 'ünïcødé ✓ 温度'),
	(6, 's6', 'a,b=c d{e}'),
	(7, 's7', 'a.b'),
	(8, 's8', 'a|b (x)*');

-- start from nothing, then write: value = 10 * n + k at t0 + 15 s * k
SELECT format('curl -sf -o /dev/null %s/api/v1/admin/tsdb/delete_series --data-urlencode %s',
			  :'vm_url', quote_literal('match[]={__name__=~"mesh_test_.*"}')) AS delete_cmd,
	   format('curl -sf --data-binary @- %s/api/v1/import', :'vm_url') AS import_cmd \gset
COPY (SELECT 1 WHERE false) TO PROGRAM :'delete_cmd';
COPY (SELECT jsonb_build_object(
		'metric', jsonb_build_object('__name__', 'mesh_test_temp', 'sensor', sensor, 'site', site),
		'values', jsonb_build_array(10 * n, 10 * n + 1, 10 * n + 2, 10 * n + 3),
		'timestamps', (SELECT jsonb_agg((extract(epoch FROM t0 + k * interval '15 s') * 1000)::bigint)
					   FROM vm_t0, generate_series(0, 3) k))::text
	  FROM vm_series)
	TO PROGRAM :'import_cmd' WITH (FORMAT csv, DELIMITER E'\x02', QUOTE E'\x01');

-- written points become visible after a second or two: poll (bounded), bypassing
-- the response cache
DO $$
DECLARE
	n bigint;
BEGIN
	FOR i IN 1..300 LOOP
		SELECT count(*) INTO n
		FROM vm_t0, mesh.execute('vm', 'mesh_test_temp',
			jsonb_build_object('start', t0, 'end', t0 + interval '45 s', 'step', '15s', 'nocache', 1));
		EXIT WHEN n = 32;
		PERFORM pg_sleep(0.1);
	END LOOP;
END $$;
SELECT count(*) AS samples FROM vm_t0, mesh.execute('vm', 'mesh_test_temp',
	jsonb_build_object('start', t0, 'end', t0 + interval '45 s', 'step', '15s', 'nocache', 1));

-- mesh.promql: an instant query; every label comes back exactly as written
SELECT labels->>'sensor' AS sensor, ts = :'t30' AS at_t30, value
FROM mesh.promql('vm', 'mesh_test_temp', :'t30') ORDER BY 1;
SELECT count(*) AS labels_exact
FROM mesh.promql('vm', 'mesh_test_temp', :'t30') p
JOIN vm_series s ON p.labels = jsonb_build_object('__name__', 'mesh_test_temp', 'sensor', s.sensor,
												  'site', s.site);
SELECT labels, ts = :'t15' AS at_t15, value FROM mesh.promql('vm', 'sum(mesh_test_temp)', :'t15');
-- mesh.promql_range: one row per sample, at step-aligned times
SELECT labels->>'sensor' AS sensor, ts - :'t0' AS since_t0, value
FROM mesh.promql_range('vm', 'mesh_test_temp{sensor=~"s1|s5"}', :'t0', :'t45', '15 s')
ORDER BY 1, 2;
-- a scalar, and the special values
SELECT labels, value FROM mesh.promql('vm', 'scalar(sum(mesh_test_temp))', :'t0');
SELECT value FROM mesh.promql('vm', '1/0', :'t0')
UNION ALL SELECT value FROM mesh.promql('vm', '-1/0', :'t0');

-- a foreign table over the metric: label columns, one mapped by the label option
CREATE FOREIGN TABLE vm_temp (
	labels jsonb, ts timestamptz, value double precision,
	sensor text, place text OPTIONS (label 'site'))
	SERVER vm OPTIONS (metric 'mesh_test_temp', step '15s');
-- label and time conditions go into the request (literal times: a stable plan)
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM vm_temp
WHERE sensor = 's2' AND ts >= '2030-01-01 00:00:00+00' AND ts <= '2030-01-01 00:01:00+00';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM vm_temp WHERE ts = '2030-01-01 00:00:00+00';
-- the same question asked both ways gives the same rows: an instant...
SELECT count(*) AS rows,
	   (SELECT count(*) FROM (SELECT labels, ts, value FROM vm_temp WHERE ts = :'t30'
							  EXCEPT SELECT * FROM mesh.promql('vm', 'mesh_test_temp', :'t30')) d) AS only_table,
	   (SELECT count(*) FROM (SELECT * FROM mesh.promql('vm', 'mesh_test_temp', :'t30')
							  EXCEPT SELECT labels, ts, value FROM vm_temp WHERE ts = :'t30') d) AS only_promql
FROM vm_temp WHERE ts = :'t30';
-- ... and a range
SELECT count(*) AS rows,
	   (SELECT count(*) FROM (SELECT labels, ts, value FROM vm_temp WHERE ts BETWEEN :'t0' AND :'t45'
							  EXCEPT SELECT * FROM mesh.promql_range('vm', 'mesh_test_temp', :'t0', :'t45', '15 s')) d) AS only_table,
	   (SELECT count(*) FROM (SELECT * FROM mesh.promql_range('vm', 'mesh_test_temp', :'t0', :'t45', '15 s')
							  EXCEPT SELECT labels, ts, value FROM vm_temp WHERE ts BETWEEN :'t0' AND :'t45') d) AS only_promql
FROM vm_temp WHERE ts BETWEEN :'t0' AND :'t45';

-- hostile label values: each pushed-down equality finds exactly its series
SELECT s.n, t.sensor, t.place = s.site AS same_site, t.value
FROM vm_series s
LEFT JOIN LATERAL (SELECT * FROM vm_temp WHERE place = s.site AND ts = :'t30') t ON true
ORDER BY s.n;
-- ... and VictoriaMetrics sent only those series: nothing was left for the
-- local recheck to remove (EXPLAIN ANALYZE, without its time-dependent Filter)
CREATE FUNCTION pg_temp.scan_rows(stmt text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	line text;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || stmt LOOP
		IF line ~ '^ *(Foreign Scan|Rows Removed|Remote requests)' THEN
			RETURN NEXT line;
		END IF;
	END LOOP;
END $$;
SELECT * FROM pg_temp.scan_rows(format('SELECT sensor FROM vm_temp WHERE place = %L AND ts = %L',
									   'x"} or vector(1) #', :'t30'));
SELECT * FROM pg_temp.scan_rows(format('SELECT sensor FROM vm_temp WHERE place IN (%L, %L) AND ts = %L',
									   E'line1\nline2\ttab\rcr', 'a|b (x)*', :'t30'));
SELECT * FROM pg_temp.scan_rows(format('SELECT sensor FROM vm_temp WHERE place LIKE %L AND ts = %L',
									   E'back\\\\slash "quoted" _single''', :'t30'));
-- the selector carries them escaped; the injection attempt stays a value
EXPLAIN (VERBOSE, COSTS OFF) SELECT value FROM vm_temp WHERE place = 'x"} or vector(1) #';
EXPLAIN (VERBOSE, COSTS OFF) SELECT value FROM vm_temp WHERE place = E'back\\slash "quoted" \'single\'';
EXPLAIN (VERBOSE, COSTS OFF) SELECT value FROM vm_temp WHERE place = E'line1\nline2\ttab\rcr';
EXPLAIN (VERBOSE, COSTS OFF) SELECT value FROM vm_temp WHERE place = 'ünïcødé ✓ 温度';
-- = ANY and LIKE become regular expressions with the metacharacters quoted
EXPLAIN (VERBOSE, COSTS OFF) SELECT value FROM vm_temp WHERE place IN ('a.b', 'a|b (x)*');
SELECT sensor, place FROM vm_temp WHERE place IN ('a.b', 'a|b (x)*', 'axb') AND ts = :'t30' ORDER BY 1;
SELECT sensor FROM vm_temp WHERE place LIKE 'a_b%' AND ts = :'t30' ORDER BY 1;
SELECT sensor FROM vm_temp WHERE place LIKE 'line1_line2%' AND ts = :'t30' ORDER BY 1;
SELECT sensor FROM vm_temp WHERE sensor <> 's1' AND place IS NOT NULL AND ts = :'t30' ORDER BY 1;
SELECT count(*) AS none FROM vm_temp WHERE place IS NULL AND ts = :'t30';
-- only the upper end of a range: the latest evaluation at or before it
SELECT sensor, ts = :'t30' AS at_t30, value FROM vm_temp WHERE sensor = 's1' AND ts <= :'t30';
SELECT sensor, :'t30' - ts AS before_t30, value FROM vm_temp WHERE sensor = 's1' AND ts < :'t30';
-- labels are a jsonb document
SELECT labels->>'site' AS site FROM vm_temp WHERE sensor = 's3' AND ts = :'t0';
-- other column types go through their input functions
CREATE FOREIGN TABLE vm_typed (labels text, ts timestamp, value numeric, sensor varchar(2))
	SERVER vm OPTIONS (metric 'mesh_test_temp');
SELECT sensor, ts = :'t30'::timestamptz::timestamp AS at_t30, value, labels::jsonb->>'sensor' AS from_labels
FROM vm_typed WHERE sensor IN ('s1', 's2') AND ts = :'t30'::timestamptz::timestamp ORDER BY 1;

-- mesh.execute: instant and range queries, rows as jsonb
SELECT r->'labels'->>'sensor' AS sensor, (r->>'ts')::timestamptz = :'t45' AS at_t45, r->'value' AS value
FROM mesh.execute('vm', 'mesh_test_temp{sensor="s4"}', jsonb_build_object('time', :'t45')) r;
SELECT count(*) AS samples, count(DISTINCT r->>'ts') AS times
FROM mesh.execute('vm', 'mesh_test_temp',
	jsonb_build_object('start', :'t0', 'end', :'t45', 'step', 15)) r;
-- VictoriaMetrics' own message for a malformed query (its evaluation time masked)
CREATE FUNCTION pg_temp.vm_error(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	EXECUTE stmt;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN SQLSTATE || ' ' || SQLERRM || ': ' || regexp_replace(detail, 'time=[0-9]+', 'time=T', 'g');
END $$;
SELECT pg_temp.vm_error($$SELECT * FROM mesh.promql('vm', 'mesh_test_temp{')$$);
SELECT pg_temp.vm_error($$SELECT * FROM mesh.execute('vm', 'sum(')$$);

-- health: VictoriaMetrics reports its version on /metrics (Debian's build: none)
SELECT server, kind, ok, version IS NULL OR version ~ '^v?[0-9]+\.' AS version_ok, error
FROM mesh.health(2000) WHERE server = 'vm';

DROP SERVER vm CASCADE;
