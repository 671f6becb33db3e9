-- servers: victoria
-- VictoriaMetrics route options: list-valued options (tags) as a JSON
-- array or a comma-separated string; round_time for times finer than the
-- write precision (a column with DEFAULT now() holds microseconds, VM keeps
-- milliseconds), and verify comparing the rounded times.  Written samples
-- become readable after a second or so: checks poll in a bounded loop.
\getenv vm_port MESH_VM_PORT
SELECT 'http://127.0.0.1:' || :'vm_port' AS vm_url \gset
CREATE SERVER vm FOREIGN DATA WRAPPER mesh_victoriametrics OPTIONS (url :'vm_url');
SELECT date_trunc('minute', now()) - interval '10 minutes' AS t0,
	   'mesh_vmo_' || extract(epoch FROM now())::bigint AS m \gset

-- verify until the replica matches, at most 60 s; then its last answer
CREATE FUNCTION vmo_verify(src regclass)
RETURNS TABLE (source_rows bigint, target_rows bigint, missing bigint, extra bigint,
			   mismatched bigint, consistent boolean)
LANGUAGE plpgsql SET client_min_messages = error AS $$
DECLARE
	r record;
BEGIN
	FOR i IN 1..240 LOOP
		SELECT * INTO r FROM mesh.verify(src) v WHERE v.target = 'vm';
		EXIT WHEN r.consistent;
		PERFORM pg_sleep(0.25);
	END LOOP;
	RETURN QUERY SELECT r.source_rows, r.target_rows, r.missing, r.extra, r.mismatched, r.consistent;
END $$;
-- the time of the sample a series holds, in Unix milliseconds (polling while not visible)
CREATE FUNCTION vmo_sample_ms(series text, at timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v double precision;
BEGIN
	FOR i IN 1..120 LOOP
		SELECT value INTO v FROM mesh.promql('vm', 'timestamp(' || series || ')', at);
		EXIT WHEN v IS NOT NULL;
		PERFORM pg_sleep(0.25);
	END LOOP;
	RETURN round(v * 1000);
END $$;

-- 1. tags as a JSON array (names taken exactly, capitals included); bad
-- lists are errors naming the option
CREATE TABLE vmo_sensors (id int PRIMARY KEY, sensor text, "Zone" text,
	ts timestamptz NOT NULL DEFAULT now(), v float8);
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": []}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": ["id", 5]}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": ["id", null]}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": ["id", ["sensor"]]}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": {"id": true}}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": ["id", "nosuch"]}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": ["id", "zone"]}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": ["id", "sensor", "id"]}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": ["id", "ts"]}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": "id, sensor, nosuch"}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": "id, \"sensor"}');
SELECT mesh.replicate('vmo_sensors', 'vm', '{"tags": ["id"], "round_time": "maybe"}');
SELECT count(*) AS routes FROM mesh.routes WHERE source = 'vmo_sensors'::regclass;

-- 2. round_time is refused when the time is in the primary key (two rows
-- could round to one point)
CREATE TABLE vmo_keyed (sensor text, ts timestamptz, v float8, PRIMARY KEY (sensor, ts));
SELECT mesh.replicate('vmo_keyed', 'vm', '{"tags": ["sensor"], "round_time": true}');

-- 3. without round_time, a time finer than a millisecond is refused: each
-- row is a dead letter of its own with the reason
CREATE TABLE vmo_exact (id int PRIMARY KEY, ts timestamptz NOT NULL, v float8);
SELECT mesh.replicate('vmo_exact', 'vm',
	jsonb_build_object('tags', jsonb_build_array('id'), 'measurement', :'m' || '_exact')) > 0 AS ok;
INSERT INTO vmo_exact SELECT g, :'t0'::timestamptz + g * interval '1 s' + interval '0.000347 s', g
	FROM generate_series(1, 5) g;
INSERT INTO vmo_exact VALUES (6, :'t0', 6);
SELECT mesh.wait_for_sync();
SELECT count(*) AS dead_letters, count(DISTINCT key) AS distinct_keys, min(error) = max(error) AS one_reason,
	   min(error) AS error
FROM mesh.dead_letter WHERE source = 'vmo_exact'::regclass;

-- 4. with round_time, rows with DEFAULT now() replicate, rounded to the
-- nearest millisecond (halves up), and verify compares the rounded times
SELECT mesh.replicate('vmo_sensors', 'vm',
	jsonb_build_object('tags', jsonb_build_array('id', 'sensor', 'Zone'), 'round_time', true,
					   'measurement', :'m')) > 0 AS ok;
SELECT options->'tags' AS tags, options->'round_time' AS round_time
FROM mesh.routes WHERE source = 'vmo_sensors'::regclass;
INSERT INTO vmo_sensors (id, sensor, "Zone", v)
	SELECT g, 's' || (g % 3), 'z' || (g % 2), g * 0.5 FROM generate_series(1, 20) g;
INSERT INTO vmo_sensors VALUES
	(101, 'down', 'z0', :'t0'::timestamptz + interval '1.000499 s', 1),
	(102, 'half', 'z0', :'t0'::timestamptz + interval '2.0005 s', 2),
	(103, 'carry', 'z0', :'t0'::timestamptz + interval '3.9995 s', 3),
	(104, 'whole', 'z0', :'t0'::timestamptz + interval '4.007 s', 4);
SELECT mesh.wait_for_sync();
SELECT count(*) AS dead_letters FROM mesh.dead_letter WHERE source = 'vmo_sensors'::regclass;
SELECT * FROM vmo_verify('vmo_sensors');
SELECT s.sensor,
	   vmo_sample_ms(:'m' || '_v{sensor="' || s.sensor || '"}', :'t0'::timestamptz + interval '5 s')
	   - round(extract(epoch FROM :'t0'::timestamptz) * 1000) AS sample_ms_after_t0
FROM (VALUES ('down'), ('half'), ('carry'), ('whole')) s(sensor);
-- an update moving a row's time by less than a millisecond still verifies
UPDATE vmo_sensors SET ts = ts + interval '0.0003 s', v = v + 1 WHERE id IN (101, 1);
SELECT mesh.wait_for_sync();
SELECT * FROM vmo_verify('vmo_sensors');

SELECT mesh.unreplicate('vmo_sensors', 'vm');
SELECT mesh.unreplicate('vmo_exact', 'vm');
-- leave nothing behind for the suites that follow
SET client_min_messages = warning;
DROP TABLE vmo_sensors, vmo_keyed, vmo_exact;
DROP FUNCTION vmo_verify(regclass), vmo_sample_ms(text, timestamptz);
DROP SERVER vm CASCADE;
RESET client_min_messages;
