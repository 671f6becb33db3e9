-- servers: redis
-- The text forms capture writes into the event log: byte-identical to the
-- types' output functions under mesh's canonical settings (ISO, UTC,
-- extra_float_digits 1), whatever the writer's settings, including the
-- types src/capture_text.c formats itself and the values it leaves to the
-- output functions (BC and five-digit years, infinities).
\getenv redis_port MESH_REDIS_PORT
CREATE SERVER text_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE TABLE tforms (id int PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, b bool, t text,
	vc varchar(20), bc char(5), ts timestamp, tz timestamptz, n numeric, d date);
SELECT mesh.replicate('tforms', 'text_cache', '{"key_prefix": "tf:"}', 'cache') > 0 AS ok;
SELECT mesh.set_capture('tforms', 'trigger');
SELECT mesh.pause('tforms', 'text_cache');
-- the writer's own settings differ from the canonical ones
SET timezone = 'America/New_York';
SET extra_float_digits = 0;
SET datestyle = 'SQL, DMY';
INSERT INTO tforms VALUES
	(1, -32768, -9223372036854775808, 'NaN', 'Infinity', true, 'héllo "x"', 'v', 'ab',
	 '2000-01-01 00:00:00', '2026-12-07 18:00:00.123+00', 1.50, '2020-02-29'),
	(2, 32767, 9223372036854775807, '-Infinity', '-0', false, repeat('x', 5000), '', 'abcde',
	 '1999-12-31 23:59:59.999999', '1970-01-01 00:00:00+00', NULL, NULL),
	(3, 0, 0, 1.1, 0.1, NULL, '', NULL, NULL, '0001-01-01 00:00:00', '9999-12-31 23:59:59.5+00', 'NaN', '0001-01-01'),
	(4, NULL, 1, 3.4e38, 1e300, true, 'a', 'b', 'c', 'infinity', '-infinity', 0, 'infinity'),
	(5, 1, -1, 1e-45, 5e-324, false, 'z', 'y', 'x', '0044-03-15 12:00:00 BC', '10000-01-01 00:00:00+00', -0.0, '2000-01-01'),
	(6, 2, 2, -0.0, 2.2250738585072014e-308, true, 'q', 'r', 's', '1900-02-28 13:14:15.000001',
	 '1969-12-31 23:59:59.999999+00', 1e20, '1999-01-01'),
	(7, 3, 3, 0.30000001, 123456789.125, true, 'q', 'r', 's', '2024-02-29 00:00:00.1',
	 '1600-03-01 00:00:00.01-03:30', 1, '1999-01-01');
UPDATE tforms SET f8 = f8 / 3, tz = tz + interval '1 day 0.5 s' WHERE id IN (3, 6);
RESET timezone;
RESET extra_float_digits;
RESET datestyle;
-- what the output functions make of the same values (format's %s) under
-- the canonical settings
SET timezone = 'UTC';
SET extra_float_digits = 1;
SET datestyle = 'ISO';
CREATE FUNCTION pg_temp.out(v anyelement) RETURNS text LANGUAGE sql
	AS $$ SELECT CASE WHEN v IS NULL THEN NULL ELSE format('%s', v) END $$;
SELECT e.op, r.id, e.key = jsonb_build_object('id', pg_temp.out(r.id)) AS key_same,
	e.row = jsonb_build_object('id', pg_temp.out(r.id), 'i2', pg_temp.out(r.i2), 'i8', pg_temp.out(r.i8), 'f4', pg_temp.out(r.f4), 'f8', pg_temp.out(r.f8), 'b', pg_temp.out(r.b), 't', pg_temp.out(r.t),
		'vc', pg_temp.out(r.vc), 'bc', pg_temp.out(r.bc), 'ts', pg_temp.out(r.ts), 'tz', pg_temp.out(r.tz), 'n', pg_temp.out(r.n), 'd', pg_temp.out(r.d)) AS row_same
FROM mesh.event_log e JOIN tforms r ON (e.key->>'id')::int = r.id
WHERE e.source = 'tforms'::regclass AND e.id = (SELECT max(e2.id) FROM mesh.event_log e2
	WHERE e2.source = e.source AND e2.key = e.key)
ORDER BY r.id;
-- a few as they read
SELECT e.row->>'tz' AS tz, e.row->>'ts' AS ts, e.row->>'f8' AS f8, e.row->>'bc' AS bc
FROM mesh.event_log e WHERE e.source = 'tforms'::regclass AND e.op = 'I' ORDER BY e.id;
RESET timezone;
RESET extra_float_digits;
RESET datestyle;
SELECT mesh.unreplicate('tforms', 'text_cache');
DROP TABLE tforms;
DROP SERVER text_cache;
