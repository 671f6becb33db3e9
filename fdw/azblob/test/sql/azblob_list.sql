-- servers: azblob hang garbage
-- mesh_azblob against Azurite 3.37.0 (it checks SharedKey signatures and
-- SAS tokens: a wrong key or a tampered token is a 403): a container
-- listing as a foreign table, read by a non-superuser role, with the
-- account key and with a SAS token.  Blobs are put by the harness
-- (fdw/azblob/azblob_tool.py, signed with the development account's key):
-- hostile names, metadata, 25 blobs under page/ for paging.  Every
-- condition is rechecked by PostgreSQL: the checks compare pushed-down
-- answers with the same question asked without pushdown.
\getenv az_port MESH_AZBLOB_PORT
\getenv down_port MESH_DOWN_PORT
\getenv hang_port MESH_HANG_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\set az_url 'http://127.0.0.1:' :az_port '/devstoreaccount1'
\set down_url 'http://127.0.0.1:' :down_port
\set hang_url 'http://127.0.0.1:' :hang_port
\set garbage_url 'http://127.0.0.1:' :garbage_port
-- Azurite's development account key, published by Microsoft
\set az_key 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
-- a valid base64 key that is not the account's
\set wrong_key 'bWVzaF93cm9uZ19henVyZV9rZXlfdmFsdWVfMDEyMzQ1Njc4OQ=='

-- blobs, put through the Blob API
\! bash "$MESH_HARNESS" azblob-mkcontainer meshlist
\! bash "$MESH_HARNESS" azblob-put meshlist top.txt 'top' text/plain
\! bash "$MESH_HARNESS" azblob-put meshlist 'dir/a b.txt' 'spaces' text/plain color=blue Owner=Ann
\! bash "$MESH_HARNESS" azblob-put meshlist 'dir/ünï✓.txt' 'unicode' 'text/plain; charset=utf-8'
\! bash "$MESH_HARNESS" azblob-put meshlist 'dir/x+y.txt' 'plus'
\! bash "$MESH_HARNESS" azblob-put meshlist 'dir/a&b=c.txt' 'amp'
\! bash "$MESH_HARNESS" azblob-put meshlist 'dir/q?#frag.txt' 'query and fragment'
\! bash "$MESH_HARNESS" azblob-put meshlist 'dir/100%.txt' 'percent'
\! bash "$MESH_HARNESS" azblob-put meshlist "dir/it's (1)!*~.txt" 'marks'
\! bash "$MESH_HARNESS" azblob-put meshlist 'dir/sub/deep.txt' 'deep' application/json note='x "y"'
\! bash -c 'for i in $(seq -w 1 25); do bash "$MESH_HARNESS" azblob-put meshlist "page/$i" "p$i" || exit 1; done'
-- a container anyone may list and read
\! bash "$MESH_HARNESS" azblob-mkcontainer meshpublic public
\! bash "$MESH_HARNESS" azblob-put meshpublic 'open/a b.txt' 'open' text/plain shared=yes
-- SAS tokens (account SAS, Blob service, a day): read+list, list only, and a tampered one
\set sas `bash "$MESH_HARNESS" azblob-sas rl`
\set sas_list_only `bash "$MESH_HARNESS" azblob-sas l`
SELECT regexp_replace(:'sas', 'sig=[^&]*', 'sig=mesh0tampered0signature0AAAAAAAAAAAAAAAAAA%3D') AS sas_tampered \gset

-- options: checked at CREATE, secrets only in a user mapping
-- (statements expected to fail carry stand-ins, never a real secret: the
-- server log records their text; checks/no_secrets_in_logs reads it)
CREATE SERVER az_bad FOREIGN DATA WRAPPER mesh_azblob OPTIONS (account 'devstoreaccount1', account_key 'bm90IHRoZSBrZXk=');
CREATE SERVER az_bad FOREIGN DATA WRAPPER mesh_azblob OPTIONS (account 'devstoreaccount1', sas_token 'sv=x&sig=y');
CREATE SERVER az_bad FOREIGN DATA WRAPPER mesh_azblob OPTIONS (account 'devstoreaccount1', endpont :'az_url');
CREATE SERVER az_bad FOREIGN DATA WRAPPER mesh_azblob OPTIONS (account 'devstoreaccount1', endpoint 'ftp://x');
CREATE SERVER az_bad FOREIGN DATA WRAPPER mesh_azblob OPTIONS (account 'devstoreaccount1', endpoint 'http://x/?sv=1');
CREATE SERVER az_bad FOREIGN DATA WRAPPER mesh_azblob OPTIONS (account 'Dev_Store');
CREATE SERVER az_bad FOREIGN DATA WRAPPER mesh_azblob OPTIONS (endpoint :'az_url');
CREATE SERVER az FOREIGN DATA WRAPPER mesh_azblob
	OPTIONS (endpoint :'az_url', account 'devstoreaccount1', container 'meshlist');
ALTER SERVER az OPTIONS (DROP account);
CREATE USER MAPPING FOR CURRENT_USER SERVER az OPTIONS (account_key 'not base64 at all!');
CREATE USER MAPPING FOR CURRENT_USER SERVER az OPTIONS (sas_token 'sv=2021-08-06&sp=rl #x');
CREATE USER MAPPING FOR CURRENT_USER SERVER az OPTIONS (account_key 'bm90IHRoZSBrZXk=', sas_token 'sv=x&sig=y');
CREATE FOREIGN TABLE az_bad (key text) SERVER az OPTIONS (page_size '0');
CREATE FOREIGN TABLE az_bad (key text) SERVER az OPTIONS (page_size '5001');
CREATE FOREIGN TABLE az_bad (key text) SERVER az OPTIONS (bucket 'meshlist');
CREATE FOREIGN TABLE az_bad (key text) SERVER az OPTIONS (head_each 'maybe');

-- the application role: USAGE on the server, its own user mapping and tables
CREATE ROLE az_app;
GRANT USAGE ON FOREIGN SERVER az TO az_app;
CREATE SCHEMA az_app AUTHORIZATION az_app;
GRANT USAGE ON SCHEMA mesh TO az_app;
SET ROLE az_app;
SET search_path = az_app;
CREATE USER MAPPING FOR CURRENT_USER SERVER az OPTIONS (account_key :'az_key');
SELECT server, kind, ok, version, error FROM mesh.health() WHERE server = 'az';
-- key COLLATE "C": ranges are pushed (Azure lists names in order)
CREATE FOREIGN TABLE objs (key text COLLATE "C", size bigint, etag text,
	last_modified timestamptz, content_type text, metadata jsonb)
	SERVER az OPTIONS (container 'meshlist');

-- the full listing: List Blobs returns content type and metadata too
SELECT key, size, etag ~ '^"0x[0-9A-F]+"$' AS etag_ok,
	   last_modified BETWEEN now() - interval '1 hour' AND now() + interval '1 minute' AS recent,
	   content_type, metadata
FROM objs WHERE key NOT LIKE 'page/%';
SELECT count(*), sum(size) FROM objs;

-- key = 'x' is one HEAD: content type and metadata too; a missing key is no row
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT * FROM objs WHERE key = 'dir/a b.txt';
SELECT key, size, content_type, metadata FROM objs WHERE key = 'dir/a b.txt';
SELECT key, size, content_type, metadata FROM objs WHERE key = 'dir/sub/deep.txt';
SELECT key, size, content_type FROM objs WHERE key = 'dir/ünï✓.txt';
SELECT count(*) AS missing FROM objs WHERE key = 'dir/none.txt';
SELECT count(*) AS contradiction FROM objs WHERE key = 'top.txt' AND key = 'dir/x+y.txt';
-- hostile names, each found by a HEAD and by the listing, the same on both
SELECT l.key, h.size = l.size AS same_size, h.etag = l.etag AS same_etag,
	   h.last_modified = l.last_modified AS same_time, h.content_type = l.content_type AS same_type,
	   h.metadata = l.metadata AS same_metadata
FROM objs l, LATERAL (SELECT * FROM objs h WHERE h.key = l.key) h
WHERE l.key LIKE 'dir/%' ORDER BY l.key;

-- key LIKE 'p%' is the listing's prefix; LIKE's escapes are honoured
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs WHERE key LIKE 'dir/%';
SELECT key FROM objs WHERE key LIKE 'dir/%';
SELECT key FROM objs WHERE key LIKE 'dir/sub/%';
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs WHERE key LIKE 'dir/100\%%';
SELECT key FROM objs WHERE key LIKE 'dir/100\%%';
SELECT key FROM objs WHERE key LIKE 'dir/a_b%';
-- conflicting prefixes: no request at all
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT key FROM objs WHERE key LIKE 'dir/%' AND key LIKE 'page/%';

-- key < / <= stop the paging; key > / >= are applied to the listing
-- (List Blobs has no start-after: the layer drops the keys before it)
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs WHERE key > 'dir/q' AND key <= 'page/02';
SELECT key FROM objs WHERE key > 'dir/q' AND key <= 'page/02';
SELECT key FROM objs WHERE key >= 'dir/x+y.txt' AND key < 'page/01';
SELECT key FROM objs WHERE key >= 'page/24';
SELECT key FROM objs WHERE key >= 'dir/ünï✓.txt' AND key < 'e';
-- the same answers without pushdown (a subquery PostgreSQL filters)
SELECT (SELECT array_agg(key ORDER BY key) FROM objs WHERE key > 'dir/q' AND key <= 'page/02')
	 = (SELECT array_agg(key ORDER BY key) FROM (SELECT key FROM objs OFFSET 0) s
		WHERE key > 'dir/q' AND key <= 'page/02') AS same_range;
SELECT (SELECT array_agg(key ORDER BY key) FROM objs WHERE key >= 'dir/ünï✓.txt' AND key < 'page/1')
	 = (SELECT array_agg(key ORDER BY key) FROM (SELECT key FROM objs OFFSET 0) s
		WHERE key >= 'dir/ünï✓.txt' AND key < 'page/1') AS same_range_unicode;
-- the listing's order is PostgreSQL's "C" order
SELECT array_agg(key) = array_agg(key ORDER BY key COLLATE "C") AS listed_in_c_order
FROM (SELECT key FROM objs OFFSET 0) s;

-- paging: 10 names a page, markers, one page in memory at a time
CREATE FOREIGN TABLE pages (key text COLLATE "C", size bigint)
	SERVER az OPTIONS (container 'meshlist', prefix 'page/', page_size '10');
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) SELECT * FROM pages;
SELECT count(*), min(key), max(key), sum(size) FROM pages;
SELECT string_agg(key, ',' ORDER BY key) FROM pages WHERE key > 'page/08' AND key < 'page/13';
-- an upper bound ends the paging early: one page read
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) SELECT key FROM pages WHERE key < 'page/04';
-- a key outside the table's prefix is not in the table (no request)
SELECT count(*) FROM pages WHERE key = 'top.txt';

-- without the "C" collation, ranges are not pushed (LIKE and = still are)
CREATE FOREIGN TABLE objs_default (key text, size bigint) SERVER az OPTIONS (container 'meshlist');
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs_default WHERE key > 'page/2' AND key LIKE 'page/%';
SELECT count(*) FROM objs_default WHERE key > 'page/2' AND key LIKE 'page/%';

-- head_each: a HEAD per listed name (not needed here: the listing has both)
CREATE FOREIGN TABLE objs_head (key text COLLATE "C", content_type text, metadata jsonb)
	SERVER az OPTIONS (container 'meshlist', head_each 'true');
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT key, content_type, metadata FROM objs_head WHERE key LIKE 'dir/%';
SELECT (SELECT array_agg(row(key, content_type, metadata)::text ORDER BY key) FROM objs_head)
	 = (SELECT array_agg(row(key, content_type, metadata)::text ORDER BY key) FROM objs) AS head_each_same;

-- a prepared statement keeps its pushdown under a generic plan
PREPARE by_key(text) AS SELECT key, size FROM objs WHERE key = $1;
EXECUTE by_key('top.txt');
EXECUTE by_key('dir/x+y.txt');
EXECUTE by_key('dir/a&b=c.txt');
EXECUTE by_key('dir/q?#frag.txt');
EXECUTE by_key('dir/100%.txt');
EXECUTE by_key('dir/it''s (1)!*~.txt');
EXECUTE by_key('dir/none');
EXECUTE by_key('page/01');
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) EXECUTE by_key('page/02');
PREPARE by_prefix(text) AS SELECT count(*) FROM objs WHERE key LIKE $1 || '%';
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_prefix('page/1');
EXECUTE by_prefix('page/1');

-- a SAS token instead of the key: Azurite checks it; it is never shown
RESET ROLE;
CREATE SERVER az_sas FOREIGN DATA WRAPPER mesh_azblob
	OPTIONS (endpoint :'az_url', account 'devstoreaccount1', container 'meshlist');
CREATE SERVER az_sas_list FOREIGN DATA WRAPPER mesh_azblob
	OPTIONS (endpoint :'az_url', account 'devstoreaccount1', container 'meshlist');
GRANT USAGE ON FOREIGN SERVER az_sas, az_sas_list TO az_app;
SET ROLE az_app;
SET search_path = az_app;
CREATE USER MAPPING FOR CURRENT_USER SERVER az_sas OPTIONS (sas_token :'sas');
CREATE USER MAPPING FOR CURRENT_USER SERVER az_sas_list OPTIONS (sas_token :'sas_list_only');
CREATE FOREIGN TABLE objs_sas (key text COLLATE "C", size bigint, metadata jsonb) SERVER az_sas;
CREATE FOREIGN TABLE objs_sas_list (key text COLLATE "C", size bigint) SERVER az_sas_list;
SELECT count(*), sum(size) FROM objs_sas;
SELECT * FROM objs_sas WHERE key = 'dir/a b.txt';
SELECT * FROM objs_sas WHERE key LIKE 'dir/sub/%';
SELECT count(*) FROM objs_sas_list;
SELECT server, ok, error FROM mesh.health() WHERE server LIKE 'az_sas%' ORDER BY 1;
-- a list-only token: the listing works, Get Blob Properties is refused
SELECT * FROM objs_sas_list WHERE key = 'top.txt';
-- a tampered token is refused with Azurite's code and message
ALTER USER MAPPING FOR CURRENT_USER SERVER az_sas OPTIONS (SET sas_token :'sas_tampered');
SELECT * FROM objs_sas;
SELECT * FROM objs_sas WHERE key = 'top.txt';
SELECT server, ok, error FROM mesh.health() WHERE server = 'az_sas';
-- no token (nor its signature) in EXPLAIN, errors or what the role sees
CREATE FUNCTION shows_secret(query text, secrets text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	line text;
	seen text := '';
	msg text;
	detail text;
	hint text;
BEGIN
	BEGIN
		FOR line IN EXECUTE query LOOP
			seen := seen || line || E'\n';
		END LOOP;
	EXCEPTION WHEN others THEN
		GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
		seen := concat_ws(E'\n', 'error', msg, detail, hint);
	END;
	RETURN CASE WHEN EXISTS (SELECT FROM unnest(secrets) s WHERE strpos(seen, s) > 0)
		   THEN 'SECRET SHOWN' ELSE 'no secret' END
		|| CASE WHEN seen LIKE 'error%' THEN ' (an error)' ELSE '' END;
END $$;
SELECT shows_secret('EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM objs_sas_list',
	ARRAY[:'sas_list_only', substring(:'sas_list_only' from 'sig=([^&]*)'), 'sig=']) AS explain_list;
SELECT shows_secret('EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM objs_sas_list WHERE key = ''top.txt''',
	ARRAY[:'sas_list_only', substring(:'sas_list_only' from 'sig=([^&]*)'), 'sig=']) AS explain_head_refused;
SELECT shows_secret('SELECT * FROM objs_sas',
	ARRAY[:'sas_tampered', substring(:'sas_tampered' from 'sig=([^&]*)'), 'sig=', 'se=']) AS error_tampered;
SELECT count(*) AS secrets_shown FROM mesh.backends()
WHERE options::text ~ '(sig=|sv=|Eby8vdM02xNO)';

-- errors: a missing container (the service's code and message), for a
-- HEAD too (its x-ms-error-code tells a missing container from a missing blob)
CREATE FOREIGN TABLE nocontainer (key text) SERVER az OPTIONS (container 'mesh-no-such-container');
SELECT * FROM nocontainer;
SELECT * FROM nocontainer WHERE key = 'x';
-- a wrong key: 403 with Azurite's code and message, no secret shown
RESET ROLE;
CREATE SERVER az_wrong FOREIGN DATA WRAPPER mesh_azblob
	OPTIONS (endpoint :'az_url', account 'devstoreaccount1', container 'meshlist');
CREATE SERVER az_nocontainer FOREIGN DATA WRAPPER mesh_azblob
	OPTIONS (endpoint :'az_url', account 'devstoreaccount1', container 'mesh-no-such-container');
CREATE SERVER az_account FOREIGN DATA WRAPPER mesh_azblob
	OPTIONS (endpoint :'az_url', account 'devstoreaccount1');
GRANT USAGE ON FOREIGN SERVER az_wrong, az_nocontainer, az_account TO az_app;
SET ROLE az_app;
SET search_path = az_app;
CREATE USER MAPPING FOR CURRENT_USER SERVER az_wrong OPTIONS (account_key :'wrong_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER az_nocontainer OPTIONS (account_key :'az_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER az_account OPTIONS (account_key :'az_key');
CREATE FOREIGN TABLE objs_wrong (key text, size bigint) SERVER az_wrong;
SELECT * FROM objs_wrong;
-- a HEAD's answer has no body: its x-ms-error-code names the error
SELECT * FROM objs_wrong WHERE key = 'top.txt';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM objs_wrong WHERE key = 'top.txt';
SELECT shows_secret('SELECT * FROM objs_wrong', ARRAY[:'wrong_key', :'az_key']) AS error_wrong_key;
-- health: Get Container Properties, or List Containers when the server names no container
SELECT server, ok, error FROM mesh.health()
WHERE server IN ('az_wrong', 'az_nocontainer', 'az_account') ORDER BY 1;
-- anonymous requests (no user mapping options): refused for a private
-- container, served for a public one
ALTER USER MAPPING FOR CURRENT_USER SERVER az_wrong OPTIONS (DROP account_key);
SELECT * FROM objs_wrong;
CREATE FOREIGN TABLE objs_public (key text COLLATE "C", size bigint, metadata jsonb)
	SERVER az_wrong OPTIONS (container 'meshpublic');
SELECT * FROM objs_public;
SELECT * FROM objs_public WHERE key = 'open/a b.txt';
-- no secret in what the role can see of the servers
SELECT server, options - 'endpoint' AS options, options ? 'endpoint' AS has_endpoint
FROM mesh.backends() WHERE server LIKE 'az%' ORDER BY 1;

-- unreachable, hanging and garbage-serving endpoints: errors naming the server
RESET ROLE;
CREATE SERVER az_down FOREIGN DATA WRAPPER mesh_azblob OPTIONS (endpoint :'down_url', account 'devstoreaccount1', container 'c');
CREATE SERVER az_hang FOREIGN DATA WRAPPER mesh_azblob OPTIONS (endpoint :'hang_url', account 'devstoreaccount1', container 'c', timeout_ms '300');
CREATE SERVER az_garbage FOREIGN DATA WRAPPER mesh_azblob OPTIONS (endpoint :'garbage_url', account 'devstoreaccount1', container 'c');
CREATE USER MAPPING FOR CURRENT_USER SERVER az_down OPTIONS (account_key :'az_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER az_hang OPTIONS (account_key :'az_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER az_garbage OPTIONS (sas_token :'sas');
CREATE FOREIGN TABLE down_objs (key text) SERVER az_down;
CREATE FOREIGN TABLE hang_objs (key text) SERVER az_hang;
CREATE FOREIGN TABLE garbage_objs (key text) SERVER az_garbage;
\set VERBOSITY terse
SELECT * FROM down_objs;
SELECT * FROM hang_objs;
\set VERBOSITY default
SELECT * FROM garbage_objs;
SELECT shows_secret('SELECT * FROM garbage_objs', ARRAY[:'sas', 'sig=']) AS error_garbage;
SELECT server, ok, error IS NOT NULL AS has_error FROM mesh.health(1000)
WHERE server IN ('az_down', 'az_hang', 'az_garbage') ORDER BY 1;

-- a column that is not a blob attribute; a table without a container
CREATE FOREIGN TABLE objs_misfit (key text, owner text) SERVER az;
SELECT * FROM objs_misfit;
CREATE FOREIGN TABLE objs_nocontainer (key text) SERVER az_down OPTIONS (prefix 'x/');
ALTER SERVER az_down OPTIONS (DROP container);
SELECT * FROM objs_nocontainer;

-- contents tables (the object-store layer's reading, through this dialect's
-- ranged GETs): CSV objects under hive partitions, one pruned before any GET
\! bash "$MESH_HARNESS" azblob-put meshlist 'read/dt=2026-12-01/a.csv' "$(printf 'id,name\n1,Ann\n2,"Bob, Jr."\n')" text/csv
\! bash "$MESH_HARNESS" azblob-put meshlist 'read/dt=2026-12-02/b.csv' "$(printf 'id,name\n3,Cy\n')" text/csv
SET ROLE az_app;
CREATE FOREIGN TABLE read_rows (id int, name text, dt date, _key text)
	SERVER az OPTIONS (path 'read/dt=*/*.csv', header 'true', read_chunk '1024');
SELECT * FROM read_rows ORDER BY id;
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT id, name FROM read_rows WHERE dt = '2026-12-02';
DROP FOREIGN TABLE read_rows;
RESET ROLE;

-- writing: mesh.export as one Put Blob, and as blocks plus a block list
-- (parts of 1 MiB), read back through a contents table; the lake sink
-- archives a table's changes and mesh.verify rebuilds it from the archive
SET ROLE az_app;
SELECT key, rows, requests FROM mesh.export('SELECT g AS id, ''row '' || g AS name FROM generate_series(1, 3) g',
	'az', 'exp/small.csv');
SELECT rows, bytes > 2 * 1048576 AS over_two_parts, requests FROM mesh.export(
	'SELECT g AS id, repeat(''z'', 100) AS name FROM generate_series(1, 25000) g',
	'az', 'exp/big.csv', NULL, '{"part_size": 1048576}');
CREATE FOREIGN TABLE exp_rows (id int, name text, _key text)
	SERVER az OPTIONS (path 'exp/*.csv', header 'true');
SELECT _key, count(*), min(id), max(id), max(length(name)) FROM exp_rows GROUP BY _key ORDER BY _key;
DROP FOREIGN TABLE exp_rows;
CREATE TABLE lake_t (id int PRIMARY KEY, v text);
INSERT INTO lake_t VALUES (1, 'one'), (2, 'two');
-- a path of this run's own: the store's data outlives a run
SELECT 'lake/' || to_char(clock_timestamp(), 'YYYYMMDDHH24MISSUS') || '/' AS lake_path \gset
SELECT mesh.replicate('lake_t', 'az', jsonb_build_object('path', :'lake_path')) > 0 AS replicating;
SELECT mesh.wait_for_sync();
UPDATE lake_t SET v = 'uno' WHERE id = 1;
DELETE FROM lake_t WHERE id = 2;
INSERT INTO lake_t VALUES (3, E'tr\u00e8s "quoted"');
SELECT mesh.wait_for_sync();
SELECT target, source_rows, target_rows, missing, extra, mismatched, consistent FROM mesh.verify('lake_t');
-- the archive read as a contents table: a delete's key is in before
CREATE FOREIGN TABLE lake_lines (op text, before jsonb, after jsonb, _key text)
	SERVER az OPTIONS (path 'lake/*/*.jsonl');
SELECT op, before, after FROM lake_lines WHERE _key LIKE :'lake_path' || '%' ORDER BY op, after->>'id';
SELECT mesh.unreplicate('lake_t', 'az');
DROP TABLE lake_t;
RESET ROLE;

SET client_min_messages = warning;
DROP SERVER IF EXISTS az, az_sas, az_sas_list, az_wrong, az_nocontainer, az_account, az_down, az_hang, az_garbage CASCADE;
DROP SCHEMA az_app CASCADE;
REVOKE USAGE ON SCHEMA mesh FROM az_app;
DROP ROLE az_app;
RESET client_min_messages;
