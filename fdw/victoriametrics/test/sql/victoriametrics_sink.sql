-- servers: victoria
-- VictoriaMetrics writes: INSERT through a metric table, the replication
-- sink (line protocol on /write) and verify (/api/v1/export).  Written
-- samples become readable after a second or so: checks poll in a bounded
-- loop.  Times are recent (VictoriaMetrics keeps one month here).
\getenv vm_port MESH_VM_PORT
SELECT 'http://127.0.0.1:' || :'vm_port' AS vm_url \gset
CREATE SERVER vm FOREIGN DATA WRAPPER mesh_victoriametrics OPTIONS (url :'vm_url');
SELECT date_trunc('minute', now()) - interval '10 minutes' AS t0,
	   'mesh_vm_' || extract(epoch FROM now())::bigint AS m \gset
-- metric names of this run (VictoriaMetrics shows a series written again
-- right after its deletion only ~10 s later: fresh names keep runs apart)
SELECT :'m' || '_r' AS mr, :'m' || '_state' AS ms \gset

-- verify until the replica shows the expected differences (none by
-- default), at most 60 s; then its last answer
CREATE FUNCTION vm_verify(src regclass, want_extra bigint DEFAULT 0)
RETURNS TABLE (source_rows bigint, target_rows bigint, missing bigint, extra bigint,
			   mismatched bigint, consistent boolean)
LANGUAGE plpgsql SET client_min_messages = error AS $$
DECLARE
	r record;
BEGIN
	FOR i IN 1..240 LOOP
		SELECT * INTO r FROM mesh.verify(src) v WHERE v.target = 'vm';
		EXIT WHEN r.missing = 0 AND r.mismatched = 0 AND r.extra = want_extra;
		PERFORM pg_sleep(0.25);
	END LOOP;
	RETURN QUERY SELECT r.source_rows, r.target_rows, r.missing, r.extra, r.mismatched, r.consistent;
END $$;
-- a sample's value as an instant query sees it (polling while it is not visible)
CREATE FUNCTION vm_value(promql text, at timestamptz) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
	v double precision;
BEGIN
	FOR i IN 1..120 LOOP
		SELECT value INTO v FROM mesh.promql('vm', promql, at);
		EXIT WHEN v IS NOT NULL;
		PERFORM pg_sleep(0.25);
	END LOOP;
	RETURN v;
END $$;

-- INSERT through a metric table: labels from columns and a jsonb object
CREATE FOREIGN TABLE vm_temp (labels jsonb, ts timestamptz, value float8, host text,
	site text OPTIONS (label 'dc')) SERVER vm OPTIONS (metric 'mesh_vm_insert_temp');
INSERT INTO vm_temp (ts, value, host, site, labels) VALUES
	(:'t0', 21.5, 'a', 'x', '{"note": "commas, spaces = \"quotes\" \\x ✓"}'),
	(:'t0'::timestamptz + interval '1 s', 22.25, 'b', NULL, NULL);
SELECT vm_value('mesh_vm_insert_temp{host="a"}', :'t0') AS a,
	   vm_value('mesh_vm_insert_temp{host="b"}', :'t0'::timestamptz + interval '1 s') AS b;
SELECT labels FROM mesh.promql('vm', 'mesh_vm_insert_temp{host="a"}', :'t0');
INSERT INTO vm_temp (ts, value, host) VALUES (:'t0'::timestamptz + interval '0.0005 s', 1, 'c');
INSERT INTO vm_temp (ts, value, host) VALUES (:'t0', 'NaN', 'c');
INSERT INTO vm_temp (ts, value, host) VALUES (:'t0', 1, 'trailing\');
INSERT INTO vm_temp (ts, host) VALUES (:'t0', 'c');
UPDATE vm_temp SET value = 0 WHERE ts = :'t0';

-- replication: the route's options are checked first
CREATE TABLE vm_readings (sensor text, ts timestamptz, v float8, n bigint, ok boolean, note text,
	PRIMARY KEY (sensor, ts));
SELECT mesh.replicate('vm_readings', 'vm', '{"tags": "sensor"}');
ALTER TABLE vm_readings RENAME COLUMN note TO "bad label";
SELECT mesh.replicate('vm_readings', 'vm', '{"tags": "sensor, \"bad label\""}');
ALTER TABLE vm_readings DROP COLUMN "bad label";
SELECT mesh.replicate('vm_readings', 'vm', jsonb_build_object('tags', 'sensor', 'measurement', :'mr')) > 0 AS ok;
INSERT INTO vm_readings SELECT 's' || (g % 3), :'t0'::timestamptz + g * interval '10 ms',
	g * 0.5, g, g % 2 = 0 FROM generate_series(1, 300) g;
-- hostile tag values
INSERT INTO vm_readings VALUES
	('a,b=c d"e\f', :'t0', 1e-300, 9007199254740992, true),
	('ünïcødé ✓ 🚀 ключ', :'t0', -1.5e300, -9007199254740992, false),
	(E'tab\there', :'t0', 0.1, 0, NULL);
SELECT mesh.wait_for_sync();
SELECT * FROM vm_verify('vm_readings');
SELECT vm_value(:'mr' || '_v{sensor="a,b=c d\"e\\f"}', :'t0') AS hostile_v,
	   vm_value(:'mr' || '_ok{sensor="ünïcødé ✓ 🚀 ключ"}', :'t0') AS bool_as_number;
-- what a sample cannot hold goes to the dead letters with the reason
INSERT INTO vm_readings VALUES ('big', :'t0', 1, 9007199254740993, NULL);
INSERT INTO vm_readings VALUES ('submilli', :'t0'::timestamptz + interval '0.0001 s', 1, 1, NULL);
INSERT INTO vm_readings VALUES ('nan', :'t0', 'NaN', 1, NULL);
INSERT INTO vm_readings VALUES ('empty', :'t0', NULL, NULL, NULL);
SELECT mesh.wait_for_sync();
SELECT key->>'sensor' AS sensor, error FROM mesh.dead_letter ORDER BY 1;
DELETE FROM vm_readings WHERE sensor IN ('big', 'submilli', 'nan', 'empty');
SELECT mesh.retry_dead_letters();
SELECT mesh.wait_for_sync();
SELECT count(*) AS dead_letters FROM mesh.dead_letter;
SELECT * FROM vm_verify('vm_readings');
-- the time is part of the key: a deleted row's sample stays (VictoriaMetrics
-- deletes whole series only), and verify reports it
DELETE FROM vm_readings WHERE n = 7;
SELECT mesh.wait_for_sync();
SELECT * FROM vm_verify('vm_readings', 1);

-- a row that is its own series (the time is not in the key): updates and
-- deletes are exact
CREATE TABLE vm_state (host text PRIMARY KEY, seen timestamptz, load float8, up boolean);
SELECT mesh.replicate('vm_state', 'vm', jsonb_build_object('tags', 'host', 'time', 'seen', 'measurement', :'ms')) > 0 AS ok;
INSERT INTO vm_state SELECT 'h' || g, :'t0'::timestamptz + g * interval '1 s', g * 1.5, true
	FROM generate_series(1, 20) g;
SELECT mesh.wait_for_sync();
SELECT * FROM vm_verify('vm_state');
UPDATE vm_state SET load = load * 2, seen = seen + interval '1 minute' WHERE host IN ('h1', 'h2', 'h3');
UPDATE vm_state SET load = NULL WHERE host = 'h4';
UPDATE vm_state SET host = 'h50' WHERE host = 'h5';
DELETE FROM vm_state WHERE host IN ('h6', 'h7');
SELECT mesh.wait_for_sync();
SELECT * FROM vm_verify('vm_state');
SELECT vm_value(:'ms' || '_load{host="h1"}', :'t0'::timestamptz + interval '61 s') AS h1_load;
SELECT count(*) AS h4_load_gone FROM mesh.promql('vm', :'ms' || '_load{host="h4"}', :'t0'::timestamptz + interval '4 s');
-- TRUNCATE deletes the route's series
TRUNCATE vm_state;
INSERT INTO vm_state VALUES ('only', :'t0', 1, false);
SELECT mesh.wait_for_sync();
SELECT * FROM vm_verify('vm_state');
SELECT mesh.unreplicate('vm_state', 'vm');
SELECT mesh.unreplicate('vm_readings', 'vm');
-- leave nothing behind for the suites that follow
SET client_min_messages = warning;
DROP TABLE vm_readings, vm_state;
DROP FUNCTION vm_verify(regclass, bigint), vm_value(text, timestamptz);
DROP SERVER vm CASCADE;
RESET client_min_messages;
