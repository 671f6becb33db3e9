-- servers: hang prometheus garbage
-- mesh_prometheus against the harness's Prometheus 2.42, which scrapes
-- itself, VictoriaMetrics and (a placeholder for) mesh every second.  Real
-- metrics change: the checks are on stable properties (jobs, label sets,
-- counts) and on two ways of asking the same question agreeing at the same
-- fixed times.
\getenv prom_port MESH_PROMETHEUS_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\getenv hang_port MESH_HANG_PORT
\set prom_url 'http://127.0.0.1:' :prom_port
\set garbage_url 'http://127.0.0.1:' :garbage_port
\set hang_url 'http://127.0.0.1:' :hang_port

-- options: secrets only in a user mapping, unknown names get a hint
CREATE SERVER prom_bad FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url 'http://x', token 'x');
CREATE SERVER prom_bad FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (urll 'x');
CREATE SERVER prom FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url :'prom_url');
-- credentials are sent as headers; Prometheus without auth ignores them
CREATE USER MAPPING FOR CURRENT_USER SERVER prom OPTIONS (user 'reader', password 'prom-secret-pw');

-- fixed times, two seconds back so no scrape is still in flight
SELECT date_trunc('second', now()) - interval '2 s' AS t_at \gset
SELECT :'t_at'::timestamptz - interval '1 minute' AS t_start \gset

-- mesh.promql: `up` has one series per scrape target
SELECT labels->>'job' AS job, labels->>'instance' ~ '^127\.0\.0\.1:[0-9]+$' AS instance_ok,
	   labels->>'__name__' AS name, ts = :'t_at' AS at_t_at
FROM mesh.promql('prom', 'up', :'t_at') ORDER BY 1;
SELECT labels->>'job' AS job, value FROM mesh.promql('prom', 'up{job=~"prometheus|victoria-metrics"}', :'t_at')
ORDER BY 1;
SELECT labels->>'version' ~ '^2\.42\.' AS version_2_42,
	   labels ?& ARRAY['branch', 'goversion', 'revision', 'instance', 'job'] AS has_labels, value
FROM mesh.promql('prom', 'prometheus_build_info', :'t_at');
-- the default time is now()
SELECT count(*) >= 3 AS up_now FROM mesh.promql('prom', 'up');
-- scalars have no labels; NaN and infinities are float8's
SELECT labels, ts = :'t_at' AS at_t_at, value FROM mesh.promql('prom', 'scalar(vector(2.5))', :'t_at');
SELECT value FROM mesh.promql('prom', '1/0', :'t_at')
UNION ALL SELECT value FROM mesh.promql('prom', '-1/0', :'t_at')
UNION ALL SELECT value FROM mesh.promql('prom', 'vector(0/0)', :'t_at');
SELECT * FROM mesh.promql('prom', '"a string"', :'t_at');
SELECT * FROM mesh.promql('prom', 'up', NULL);

-- mesh.promql_range: one row per evaluation, every step from start
SELECT count(*) > 0 AS has_rows, count(DISTINCT labels) AS series,
	   bool_and(ts BETWEEN :'t_start' AND :'t_at') AS in_range,
	   bool_and(extract(epoch FROM ts - :'t_start')::numeric % 10 = 0) AS step_aligned
FROM mesh.promql_range('prom', 'up{job="prometheus"}', :'t_start', :'t_at', '10 s');
SELECT * FROM mesh.promql_range('prom', 'up', :'t_at', :'t_start', '10 s');
SELECT * FROM mesh.promql_range('prom', 'up', :'t_start', :'t_at', '1 ms');
SELECT * FROM mesh.promql_range('prom', 'up', :'t_start', :'t_at', '0 s');
SELECT * FROM mesh.promql_range('prom', 'up', :'t_start', :'t_at', '1 month');

-- raw samples: an instant query of a range vector (scraped every second)
SELECT count(*) > 1 AS samples, count(*) = count(DISTINCT ts) AS own_times,
	   bool_and(ts <= :'t_at' AND ts > :'t_at'::timestamptz - interval '10 s') AS in_window
FROM mesh.promql('prom', 'up{job="prometheus"}[10s]', :'t_at');

-- Prometheus' own message for a malformed query
SELECT * FROM mesh.promql('prom', 'up{', :'t_at');
SELECT * FROM mesh.promql('prom', 'rate(up[5m]', :'t_at');
SELECT * FROM mesh.promql('prom', 'up + on(', :'t_at');

-- a foreign table over `up`: label columns, one mapped by the label option
CREATE FOREIGN TABLE prom_up (
	labels jsonb, ts timestamptz, value double precision,
	job text, target text OPTIONS (label 'instance'))
	SERVER prom OPTIONS (metric 'up', step '10s');
-- the request: metric and label matchers always, ts conditions as the time range
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up WHERE job = 'prometheus';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up
WHERE job = 'prometheus' AND ts >= '2030-01-01 00:00:00+00' AND ts < '2030-01-01 00:01:00+00';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up
WHERE ts BETWEEN '2030-01-01 00:00:00.0004+00' AND '2030-01-01 00:01:00.0006+00';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up WHERE ts = '2030-01-01 00:00:00+00';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up WHERE ts < '2030-01-01 00:00:00+00';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up WHERE ts >= '2020-01-01 00:00:00+00';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up
WHERE job IN ('prometheus', 'victoria-metrics') AND target LIKE '127.0.0.1:%' AND job <> 'mesh';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up WHERE job IS NULL OR job = 'x';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up WHERE job IS NOT NULL AND value > 0;
-- conditions that match nothing send nothing
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up
WHERE ts >= '2030-01-02 00:00:00+00' AND ts <= '2030-01-01 00:00:00+00';
SELECT count(*) FROM prom_up WHERE job = NULL;
SELECT count(*) FROM prom_up WHERE job IN (NULL);

-- the same question asked both ways gives the same rows: an instant...
SELECT count(*) AS rows,
	   (SELECT count(*) FROM (SELECT labels, ts, value FROM prom_up WHERE job = 'prometheus' AND ts = :'t_at'
							  EXCEPT SELECT * FROM mesh.promql('prom', 'up{job="prometheus"}', :'t_at')) d) AS only_table,
	   (SELECT count(*) FROM (SELECT * FROM mesh.promql('prom', 'up{job="prometheus"}', :'t_at')
							  EXCEPT SELECT labels, ts, value FROM prom_up WHERE job = 'prometheus' AND ts = :'t_at') d) AS only_promql
FROM prom_up WHERE job = 'prometheus' AND ts = :'t_at';
-- ... and a range (the table's step is 10s)
SELECT count(*) > 0 AS has_rows,
	   (SELECT count(*) FROM (SELECT labels, ts, value FROM prom_up WHERE job = 'prometheus' AND ts BETWEEN :'t_start' AND :'t_at'
							  EXCEPT SELECT * FROM mesh.promql_range('prom', 'up{job="prometheus"}', :'t_start', :'t_at', '10 s')) d) AS only_table,
	   (SELECT count(*) FROM (SELECT * FROM mesh.promql_range('prom', 'up{job="prometheus"}', :'t_start', :'t_at', '10 s')
							  EXCEPT SELECT labels, ts, value FROM prom_up WHERE job = 'prometheus' AND ts BETWEEN :'t_start' AND :'t_at') d) AS only_promql
FROM prom_up WHERE job = 'prometheus' AND ts BETWEEN :'t_start' AND :'t_at';
-- without a ts condition: the latest value of every series, at now()
SELECT job, target = labels->>'instance' AS target_is_instance,
	   ts = date_trunc('milliseconds', now()) AS at_now
FROM prom_up ORDER BY job;
-- label pushdown gives what a local filter gives
SELECT job FROM prom_up WHERE job IN ('prometheus', 'victoria-metrics', 'nope') AND ts = :'t_at' ORDER BY 1;
SELECT job FROM prom_up WHERE job LIKE 'prom_theu%' AND ts = :'t_at';
SELECT job FROM prom_up WHERE job <> 'mesh' AND target IS NOT NULL AND ts = :'t_at' ORDER BY 1;
SELECT count(*) AS no_job FROM prom_up WHERE job IS NULL AND ts = :'t_at';
-- the upper end alone: the latest evaluation at or before it
SELECT ts = :'t_at' AS at_t_at FROM prom_up WHERE job = 'prometheus' AND ts <= :'t_at';
SELECT :'t_at' - ts AS before_t_at FROM prom_up WHERE job = 'prometheus' AND ts < :'t_at';
-- requests are counted
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM prom_up WHERE job = 'prometheus' AND ts = '2030-01-01 00:00:00+00';

-- hostile label values are escaped PromQL strings: the injection attempt
-- stays a value (else Prometheus would send a vector(1) row, which the
-- local recheck would remove: "Rows Removed by Filter"); quotes,
-- backslashes, newlines, tabs and unicode reach Prometheus intact (no
-- parse error)
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up WHERE job = 'x"} or vector(1) #';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM prom_up WHERE job = 'x"} or vector(1) #';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM prom_up WHERE job IN ('x"} or vector(1) #', 'y') AND target LIKE '%"} or vector(2) #';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up
WHERE job = E'q"uo\'te \\back\\slash\nnew\tline ünïcødé ✓';
SELECT count(*) FROM prom_up WHERE job = E'q"uo\'te \\back\\slash\nnew\tline ünïcødé ✓';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up WHERE job IN ('a"b', 'c\d', '.*');
SELECT count(*) FROM prom_up WHERE job IN ('a"b', 'c\d', '.*');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_up WHERE job LIKE '%"}%\%\_';
SELECT count(*) FROM prom_up WHERE job LIKE '%"}%\%\_';
-- a metric name that is not a plain identifier is selected by __name__
CREATE FOREIGN TABLE prom_odd (labels jsonb, ts timestamptz, value float8, job text)
	SERVER prom OPTIONS (metric 'up"} or vector(1) #');
CREATE FOREIGN TABLE prom_sum (labels jsonb, value float8) SERVER prom OPTIONS (metric 'sum');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_odd WHERE job = 'prometheus';
SELECT count(*) AS injected FROM prom_odd;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM prom_sum;

-- parameters are pushed too, also in generic plans (8 executions)
PREPARE by_job(text, timestamptz) AS SELECT count(*) FROM prom_up WHERE job = $1 AND ts = $2;
EXECUTE by_job('prometheus', :'t_at');
EXECUTE by_job('prometheus', :'t_at');
EXECUTE by_job('prometheus', :'t_at');
EXECUTE by_job('prometheus', :'t_at');
EXECUTE by_job('prometheus', :'t_at');
EXECUTE by_job('prometheus', :'t_at');
EXECUTE by_job('victoria-metrics', :'t_at');
EXECUTE by_job('nope', :'t_at');
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_job('prometheus', '2030-01-01 00:00:00+00');
EXECUTE by_job('prometheus', :'t_at');
RESET plan_cache_mode;
DEALLOCATE by_job;
-- a join: the label comes from the outer side, per outer row
CREATE TEMP TABLE wanted_jobs (job text);
INSERT INTO wanted_jobs VALUES ('prometheus'), ('victoria-metrics');
ANALYZE wanted_jobs;
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT w.job, p.value FROM wanted_jobs w JOIN prom_up p ON p.job = w.job WHERE p.ts = '2030-01-01 00:00:00+00';
SELECT w.job, p.value FROM wanted_jobs w JOIN prom_up p ON p.job = w.job WHERE p.ts = :'t_at' ORDER BY 1;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;

-- table layout errors name the column or option
CREATE FOREIGN TABLE prom_badstep (ts timestamptz, value float8) SERVER prom OPTIONS (step '15 parsecs');
SELECT * FROM prom_badstep;
CREATE FOREIGN TABLE prom_badlabel ("my label" text) SERVER prom OPTIONS (metric 'up');
SELECT * FROM prom_badlabel;
CREATE FOREIGN TABLE prom_badts (ts text) SERVER prom OPTIONS (metric 'up');
SELECT * FROM prom_badts;
CREATE FOREIGN TABLE prom_badopt (job text OPTIONS (label 'a-b')) SERVER prom OPTIONS (metric 'up');
SELECT * FROM prom_badopt;
ALTER FOREIGN TABLE prom_badopt OPTIONS (ADD steps '1s');

-- mesh.execute: PromQL passed through, rows as jsonb
SELECT r->'labels'->>'job' AS job, r->'value' AS value, (r->>'ts')::timestamptz = :'t_at' AS at_t_at
FROM mesh.execute('prom', 'up{job="prometheus"}', jsonb_build_object('time', :'t_at')) r;
SELECT r->'labels' AS labels, r->'value' AS value
FROM mesh.execute('prom', 'vector(1/0) or label_replace(vector(-1/0), "s", "-", "", "")',
				  jsonb_build_object('time', extract(epoch FROM :'t_at'::timestamptz))) r ORDER BY 2;
SELECT r->'value' AS value FROM mesh.execute('prom', '"a string"') r;
SELECT r->'value' AS value FROM mesh.execute('prom', '0.1 + 0.2') r;
SELECT count(*) = count(DISTINCT r->>'ts') AS one_series,
	   count(*) = (SELECT count(*) FROM mesh.promql_range('prom', 'up{job="prometheus"}', :'t_start', :'t_at', '10 s')) AS same_rows
FROM mesh.execute('prom', 'up{job="prometheus"}',
				  jsonb_build_object('start', :'t_start', 'end', :'t_at', 'step', '10s')) r;
SELECT * FROM mesh.execute('prom', 'up', '{"start": "2030-01-01"}');
SELECT * FROM mesh.execute('prom', 'up', '{"time": 1, "step": "10s", "start": 0}');
SELECT * FROM mesh.execute('prom', 'up', '{"time": "yesterday noon-ish"}');
SELECT * FROM mesh.execute('prom', 'up', '{"start": 0, "step": "10 parsecs"}');
SELECT * FROM mesh.execute('prom', 'up', '{"query": "up"}');
SELECT * FROM mesh.execute('prom', 'up', '[1]');
SELECT * FROM mesh.execute('prom', 'up', '{"dedup": {"a": 1}}');
SELECT * FROM mesh.execute('prom', 'sum(');

-- USAGE on the server is required
CREATE ROLE prom_reader;
GRANT USAGE ON SCHEMA mesh TO prom_reader;
SET ROLE prom_reader;
SELECT * FROM mesh.promql('prom', 'up');
SELECT * FROM mesh.promql_range('prom', 'up', now() - interval '1 minute', now(), '10 s');
RESET ROLE;
-- mesh.promql is for servers that answer PromQL
CREATE SERVER prom_not FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1');
SELECT * FROM mesh.promql('prom_not', 'up');
DROP SERVER prom_not;

-- a server that answers garbage, or errors, or never: clear errors, no secret
CREATE SERVER prom_garbage FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url :'garbage_url');
CREATE USER MAPPING FOR CURRENT_USER SERVER prom_garbage OPTIONS (token 'tok-secret-123');
SELECT * FROM mesh.promql('prom_garbage', 'up');
SELECT * FROM mesh.execute('prom_garbage', 'up');
CREATE FOREIGN TABLE prom_garbage_up (labels jsonb, ts timestamptz, value float8) SERVER prom_garbage OPTIONS (metric 'up');
SELECT * FROM prom_garbage_up;
\set url_500 :garbage_url '/status500'
CREATE SERVER prom_500 FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url :'url_500');
SELECT * FROM mesh.promql('prom_500', 'up');
\set url_slow :garbage_url '/slow'
CREATE SERVER prom_slow FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url :'url_slow', timeout_ms '300');
SELECT * FROM mesh.promql('prom_slow', 'up');
CREATE SERVER prom_hang FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url :'hang_url', timeout_ms '300');
SELECT * FROM mesh.promql('prom_hang', 'up');
-- the other server's connection is unaffected
SELECT count(*) AS still_fine FROM prom_up WHERE job = 'prometheus';

-- health: Prometheus reports its version on /api/v1/status/buildinfo
SELECT server, kind, ok, version ~ '^2\.42\.' AS version_2_42,
	   regexp_replace(error, '[0-9]+ ms', 'N ms') AS error
FROM mesh.health(1000) WHERE server LIKE 'prom%' ORDER BY server;

REVOKE USAGE ON SCHEMA mesh FROM prom_reader;
DROP ROLE prom_reader;
DROP SERVER prom, prom_garbage, prom_500, prom_slow, prom_hang CASCADE;
