-- servers: mongodb
-- Reading MongoDB (FerretDB) collections: the BSON type mapping, NULL and
-- missing fields, every pushed qual kind (EXPLAIN VERBOSE shows the find
-- command; results equal the unpushed query), ORDER BY/LIMIT, generic
-- plans, dotted paths, the whole document as jsonb, hostile strings.
\getenv mongo_port MESH_MONGO_PORT
SET TimeZone = 'UTC';
CREATE SERVER mongo FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port :'mongo_port', database 'mesh_test', timeout_ms '5000');
CREATE USER MAPPING FOR CURRENT_USER SERVER mongo
	OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
SELECT r->>'ok' AS emptied FROM mesh.execute('mongo', '{"delete": "scan_docs", "deletes": [{"q": {}, "limit": 0}]}') r;
SELECT r->>'ok' AS emptied FROM mesh.execute('mongo', '{"delete": "scan_types", "deletes": [{"q": {}, "limit": 0}]}') r;

-- 40 documents; every 5th lacks "v", every 7th has v: null, "tag" cycles
SELECT * FROM mesh.execute('mongo', jsonb_build_object('insert', 'scan_docs', 'documents',
	(SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('_id', g, 'tag', 't' || (g % 4),
		'v', CASE WHEN g % 5 = 0 THEN NULL ELSE g * 10 END, 'f', g / 4.0,
		'ok', g % 2 = 0, 'at', jsonb_build_object('$date', to_char(('2024-01-01'::timestamptz + g * interval '1 day')
			AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
		'meta', jsonb_build_object('depth', g % 3, 'label', 'L' || g)))
		|| CASE WHEN g % 7 = 0 THEN '{"v": null}'::jsonb ELSE '{}' END)
	 FROM generate_series(1, 40) g))::text);

CREATE FOREIGN TABLE docs (_id int, tag text COLLATE "C", v bigint, f float8, ok boolean,
	at timestamptz, depth int OPTIONS (field 'meta.depth'), label text OPTIONS (field 'meta.label'))
	SERVER mongo OPTIONS (collection 'scan_docs');
SELECT count(*), count(v), sum(v), min(at), max(at) FROM docs;
SELECT * FROM docs WHERE _id IN (1, 5, 7, 35) ORDER BY _id;

-- a local copy: the unpushed truth every pushed query is compared with
CREATE TEMP TABLE docs_local AS SELECT * FROM docs;

-- check(q): EXPLAIN VERBOSE's remote request, then whether the pushed
-- result equals the same query over the local copy
CREATE FUNCTION check_pushed(cond text) RETURNS TABLE(remote text, rows bigint, same boolean)
LANGUAGE plpgsql AS $$
DECLARE
	line text;
	n bigint;
	diff bigint;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN VERBOSE SELECT * FROM docs WHERE ' || cond LOOP
		IF line LIKE '%Remote request:%' THEN
			remote := substring(line from 'Remote request: (.*)$');
		END IF;
	END LOOP;
	EXECUTE 'SELECT count(*) FROM docs WHERE ' || cond INTO n;
	EXECUTE format('SELECT count(*) FROM ((SELECT * FROM docs WHERE %s EXCEPT ALL SELECT * FROM docs_local WHERE %s)
		UNION ALL (SELECT * FROM docs_local WHERE %s EXCEPT ALL SELECT * FROM docs WHERE %s)) d',
		cond, cond, cond, cond) INTO diff;
	rows := n;
	same := diff = 0;
	RETURN NEXT;
END $$;

SELECT * FROM check_pushed('v = 30');
SELECT * FROM check_pushed('v <> 30');
SELECT * FROM check_pushed('v < 100');
SELECT * FROM check_pushed('v <= 100');
SELECT * FROM check_pushed('v > 300');
SELECT * FROM check_pushed('v >= 300');
SELECT * FROM check_pushed('v IN (10, 20, 50, NULL)');
SELECT * FROM check_pushed('v = ANY(ARRAY[10, 20, 999])');
SELECT * FROM check_pushed('v IS NULL');
SELECT * FROM check_pushed('v IS NOT NULL');
SELECT * FROM check_pushed('v = NULL');
SELECT * FROM check_pushed('tag = ''t1'' AND ok');
SELECT * FROM check_pushed('tag > ''t1''');
SELECT * FROM check_pushed('tag <> ''t1'' AND v > 100 AND v < 300');
SELECT * FROM check_pushed('NOT (v = 30)');
SELECT * FROM check_pushed('NOT (v IS NULL)');
-- a boolean column is tested as "ok" / "NOT ok" by the planner: not a
-- column-op-value qual, so it is rechecked locally
SELECT * FROM check_pushed('ok = false');
SELECT * FROM check_pushed('f >= 2.5');
SELECT * FROM check_pushed('at >= ''2024-01-10 00:00:00+00'' AND at < ''2024-01-20''');
SELECT * FROM check_pushed('depth = 2');
SELECT * FROM check_pushed('label IN (''L3'', ''L4'')');
-- not pushed (rechecked locally): OR, NOT IN, LIKE, IS NULL on a dotted path,
-- a timestamp with microseconds
SELECT * FROM check_pushed('v = 10 OR v = 20');
SELECT * FROM check_pushed('v NOT IN (10, 20)');
SELECT * FROM check_pushed('tag LIKE ''t%''');
SELECT * FROM check_pushed('depth IS NULL');
SELECT * FROM check_pushed('at > ''2024-01-10 00:00:00.000001+00''');

-- a nondeterministic collation: equality on text stays local (MongoDB
-- compares bytes), so 'T1' still finds the 't1' documents
CREATE COLLATION mongo_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE FOREIGN TABLE docs_ci (_id int, tag text COLLATE mongo_ci) SERVER mongo OPTIONS (collection 'scan_docs');
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM docs_ci WHERE tag = 'T1';
SELECT count(*) FROM docs_ci WHERE tag = 'T1';
DROP FOREIGN TABLE docs_ci;
DROP COLLATION mongo_ci;

-- ORDER BY and LIMIT go remote when MongoDB orders as PostgreSQL does:
-- nulls first ascending, or a column with a pushed comparison
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id, v FROM docs WHERE v > 100 ORDER BY v DESC LIMIT 3;
SELECT _id, v FROM docs WHERE v > 100 ORDER BY v DESC LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id, v FROM docs ORDER BY v NULLS FIRST, _id NULLS FIRST LIMIT 4 OFFSET 2;
SELECT _id, v FROM docs ORDER BY v NULLS FIRST, _id NULLS FIRST LIMIT 4 OFFSET 2;
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id, tag FROM docs WHERE v > 0 ORDER BY tag DESC NULLS LAST, at DESC NULLS LAST LIMIT 3;
-- the same order as the local copy's
SELECT (SELECT array_agg(_id) FROM (SELECT _id FROM docs ORDER BY v NULLS FIRST, _id NULLS FIRST LIMIT 4 OFFSET 2) a) =
	(SELECT array_agg(_id) FROM (SELECT _id FROM docs_local ORDER BY v NULLS FIRST, _id NULLS FIRST LIMIT 4 OFFSET 2) b) AS same_order,
	(SELECT array_agg(_id) FROM (SELECT _id FROM docs WHERE v > 0 ORDER BY tag DESC NULLS LAST, at DESC NULLS LAST LIMIT 3) a) =
	(SELECT array_agg(_id) FROM (SELECT _id FROM docs_local WHERE v > 0 ORDER BY tag DESC NULLS LAST, at DESC NULLS LAST LIMIT 3) b) AS same_order2;
SELECT _id, tag FROM docs WHERE v > 0 ORDER BY tag DESC NULLS LAST, at DESC NULLS LAST LIMIT 3;
-- a second key that may be NULL, sorted NULLS LAST ascending: local
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id, tag FROM docs ORDER BY tag NULLS FIRST, at LIMIT 3;
-- the default NULLS LAST ascending is sorted locally
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id, v FROM docs ORDER BY v LIMIT 2;
SELECT _id, v FROM docs ORDER BY v LIMIT 2;
-- a LIMIT under a non-exact qual stays local
EXPLAIN (VERBOSE, COSTS OFF) SELECT _id FROM docs WHERE depth = 1 LIMIT 2;

-- parameters are pushed in generic plans too (8 executions)
PREPARE by_v(bigint) AS SELECT _id FROM docs WHERE v = $1;
EXECUTE by_v(10); EXECUTE by_v(20); EXECUTE by_v(30); EXECUTE by_v(40);
EXECUTE by_v(60); EXECUTE by_v(70); EXECUTE by_v(80); EXECUTE by_v(90);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_v(90);
PREPARE by_at(timestamptz) AS SELECT _id FROM docs WHERE at = $1;
EXECUTE by_at('2024-01-03 00:00:00+00'); EXECUTE by_at('2024-01-04 00:00:00+00');
EXECUTE by_at('2024-01-05 00:00:00+00'); EXECUTE by_at('2024-01-06 00:00:00+00');
EXECUTE by_at('2024-01-07 00:00:00+00'); EXECUTE by_at('2024-01-08 00:00:00+00');
EXECUTE by_at('2024-01-09 00:00:00+00');
-- a parameter BSON cannot hold exactly is left to the local recheck
EXECUTE by_at('2024-01-09 00:00:00.5+00');

-- ---------------------------------------------------------------- types
SELECT * FROM mesh.execute('mongo', $$ {"insert": "scan_types", "documents": [
	{"_id": {"$oid": "65a1b2c3d4e5f60718293a4b"}, "i32": 7, "i64": {"$numberLong": "9007199254740993"},
	 "dbl": 2.5, "big": 1e300, "neg": -0.0, "dt": {"$date": "1999-12-31T23:59:59.123Z"},
	 "old": {"$date": "1900-01-01T00:00:00Z"}, "flag": true, "str": "plain",
	 "arr": [1, "two", {"three": 3}, null], "sub": {"a": {"b": [true, false]}, "c": "d"},
	 "bin": {"$binary": {"base64": "AAECAw==", "subType": "00"}}, "day": {"$date": "2024-02-29T00:00:00Z"},
	 "nstr": "12.50"},
	{"_id": "plain-id", "i32": null},
	{"_id": 42}
] } $$);
CREATE FOREIGN TABLE types (_id text, i32 int, i64 bigint, dbl float8, big float8, neg float8,
	dt timestamptz, old timestamp, flag boolean, str text, arr jsonb, sub jsonb, bin bytea, day date,
	nstr numeric, whole jsonb OPTIONS (document 'true'))
	SERVER mongo OPTIONS (collection 'scan_types');
SELECT _id, i32, i64, dbl, big, neg, dt, old, flag, str, arr, sub, bin, day, nstr
	FROM types WHERE _id = '65a1b2c3d4e5f60718293a4b';
SELECT whole - 'big' AS whole, whole->'big' = to_jsonb(1e300) AS big_exact
	FROM types WHERE _id = '65a1b2c3d4e5f60718293a4b';
SELECT _id, i32 FROM types WHERE _id = 'plain-id';
-- an int _id in a text column does not fit: an error naming field, column and value
SELECT _id FROM types;
-- values that do not fit their column
CREATE FOREIGN TABLE types_bad (_id text, i32 smallint, dbl int, str int, sub text, flag int, dt date)
	SERVER mongo OPTIONS (collection 'scan_types');
SELECT i32 FROM types_bad WHERE _id = '65a1b2c3d4e5f60718293a4b';
SELECT dbl FROM types_bad WHERE _id = '65a1b2c3d4e5f60718293a4b';
SELECT str FROM types_bad WHERE _id = '65a1b2c3d4e5f60718293a4b';
SELECT sub FROM types_bad WHERE _id = '65a1b2c3d4e5f60718293a4b';
SELECT flag FROM types_bad WHERE _id = '65a1b2c3d4e5f60718293a4b';
SELECT dt FROM types_bad WHERE _id = '65a1b2c3d4e5f60718293a4b';
CREATE FOREIGN TABLE types_i16 (_id text, i64 smallint) SERVER mongo OPTIONS (collection 'scan_types');
SELECT i64 FROM types_i16 WHERE _id = '65a1b2c3d4e5f60718293a4b';
CREATE FOREIGN TABLE types_f (_id text, i64 float8) SERVER mongo OPTIONS (collection 'scan_types');
SELECT i64 FROM types_f WHERE _id = '65a1b2c3d4e5f60718293a4b';

-- ---------------------------------------------------------------- hostile strings
-- quotes, backslashes, $-prefixed values, dots, unicode, newlines, tabs,
-- JSON and extended-JSON look-alikes: written with INSERT, read back with
-- a pushed equality on each, and seen by the server as plain strings
CREATE FOREIGN TABLE hostile (_id text, s text) SERVER mongo OPTIONS (collection 'scan_hostile');
SELECT r->>'ok' AS emptied FROM mesh.execute('mongo', '{"delete": "scan_hostile", "deletes": [{"q": {}, "limit": 0}]}') r;
INSERT INTO hostile VALUES
	('q', E'it''s "quoted" \\ back\\slash'),
	('dollar', '$where'),
	('dollar2', '{"$gt": ""}'),
	('dots', 'a.b.c'),
	('uni', 'ünïcødé ✓ 🚀 ключ'),
	('nl', E'line1\nline2\ttab\r'),
	('json', '{"$oid": "65a1b2c3d4e5f60718293a4b"}'),
	('empty', '');
SELECT _id, s, (SELECT count(*) FROM hostile h2 WHERE h2.s = h.s) AS found_by_value
	FROM hostile h ORDER BY _id;
SELECT * FROM mesh.execute('mongo', '[{"$match": {"s": {"$regex": "^\\$"}}}, {"$sort": {"_id": 1}}]',
	'{"collection": "scan_hostile"}');
SELECT * FROM mesh.execute('mongo', '{"count": "scan_hostile", "query": {"s": {"$type": "string"}}}');

DROP FUNCTION check_pushed(text);
DROP SERVER mongo CASCADE;
