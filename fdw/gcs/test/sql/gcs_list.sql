-- servers: gcs gcs_auth hang garbage
-- mesh_gcs against fake-gcs-server v1.56.1 (GCS's JSON API; it ignores
-- credentials): a bucket listing as a foreign table, read by a
-- non-superuser role.  Credentials are contract-tested against the
-- gcs_auth stand-in (fdw/gcs/test/gcs_auth_standin.py): Google's token
-- endpoint for the JWT-bearer grant (RS256 checked), and a proxy in front
-- of fake-gcs-server that lets through only bearer tokens it issued (or
-- the static test token).  Objects are put by the harness (gcs-put:
-- hostile names, metadata, 25 objects under page/ for paging).  Every
-- condition is rechecked by PostgreSQL: the checks compare pushed-down
-- answers with the same question asked without pushdown.
\getenv test_dir MESH_TEST_DIR
\getenv gcs_port MESH_GCS_PORT
\getenv token_port MESH_GCS_TOKEN_PORT
\getenv down_port MESH_DOWN_PORT
\getenv hang_port MESH_HANG_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\set gcs_url 'http://127.0.0.1:' :gcs_port
\set proxy_url 'http://127.0.0.1:' :token_port
\set down_url 'http://127.0.0.1:' :down_port
\set hang_url 'http://127.0.0.1:' :hang_port
\set garbage_url 'http://127.0.0.1:' :garbage_port
\set down_token_uri :down_url '/token'
\set hang_token_uri :hang_url '/token'
\set garbage_token_uri :garbage_url '/token'
-- the test service account's key files (made by the harness: openssl genrsa)
\set sa_json `cat "$MESH_TEST_DIR/gcs_auth/sa.json"`
\set sa_wrong_json `cat "$MESH_TEST_DIR/gcs_auth/sa_wrong.json"`

-- objects, put through the JSON API's multipart upload
\! bash "$MESH_HARNESS" gcs-mkbucket meshlist
\! bash "$MESH_HARNESS" gcs-put meshlist top.txt 'top' text/plain
\! bash "$MESH_HARNESS" gcs-put meshlist 'dir/a b.txt' 'spaces' text/plain color=blue Owner=Ann
\! bash "$MESH_HARNESS" gcs-put meshlist 'dir/ünï✓.txt' 'unicode' 'text/plain; charset=utf-8' 'ключ=значение'
\! bash "$MESH_HARNESS" gcs-put meshlist 'dir/x+y.txt' 'plus'
\! bash "$MESH_HARNESS" gcs-put meshlist 'dir/a&b=c.txt' 'amp'
\! bash "$MESH_HARNESS" gcs-put meshlist 'dir/q?#frag.txt' 'query and fragment'
\! bash "$MESH_HARNESS" gcs-put meshlist 'dir/100%.txt' 'percent'
\! bash "$MESH_HARNESS" gcs-put meshlist 'dir/sub/deep.txt' 'deep' application/json note='x "y"'
\! bash -c 'for i in $(seq -w 1 25); do bash "$MESH_HARNESS" gcs-put meshlist "page/$i" "p$i" || exit 1; done'

-- options: checked at CREATE, secrets only in a user mapping
CREATE SERVER gcs_bad FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint :'gcs_url', access_token 'x');
CREATE SERVER gcs_bad FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpont :'gcs_url');
CREATE SERVER gcs_bad FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint 'ftp://x');
CREATE SERVER gcs_bad FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint 'http://x/?a=b');
CREATE SERVER gcs_bad FOREIGN DATA WRAPPER mesh_gcs OPTIONS (token_uri 'file:///etc/passwd');
CREATE SERVER gcs FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint :'gcs_url', bucket 'meshlist');
-- (PostgreSQL logs the text of a failing statement: no real key in one)
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs OPTIONS (access_token 'tok', service_account_json '{}');
-- a key that is not one: the message never quotes it
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs OPTIONS (service_account_json 'not json mesh_secret_text');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs OPTIONS (service_account_json '["mesh_secret_text"]');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs OPTIONS (service_account_json '{"type": "authorized_user", "refresh_token": "mesh_secret_text"}');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs OPTIONS (service_account_json '{"client_email": "a@b", "private_key_id": "mesh_secret_text"}');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs OPTIONS (service_account_json '{"client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----\nmesh_secret_text\n-----END PRIVATE KEY-----\n"}');
CREATE FOREIGN TABLE gcs_bad (key text) SERVER gcs OPTIONS (page_size '0');
CREATE FOREIGN TABLE gcs_bad (key text) SERVER gcs OPTIONS (page_size '1001');
CREATE FOREIGN TABLE gcs_bad (key text) SERVER gcs OPTIONS (head_each 'maybe');

-- the application role: USAGE on the server, its own user mapping and tables
CREATE ROLE gcs_app;
GRANT USAGE ON FOREIGN SERVER gcs TO gcs_app;
CREATE SCHEMA gcs_app AUTHORIZATION gcs_app;
GRANT USAGE ON SCHEMA mesh TO gcs_app;
SET ROLE gcs_app;
SET search_path = gcs_app;
-- fake-gcs-server takes anonymous requests: a mapping without credentials
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs;
-- health: GET /storage/v1/b/meshlist (GCS states no version)
SELECT server, kind, ok, version, error FROM mesh.health() WHERE server = 'gcs';
-- key COLLATE "C": GCS orders names bytewise, so range conditions can be pushed
CREATE FOREIGN TABLE objs (key text COLLATE "C", size bigint, etag text,
	last_modified timestamptz, content_type text, metadata jsonb)
	SERVER gcs OPTIONS (bucket 'meshlist');

-- the full listing: GCS's listing has content type and metadata too
SELECT key, size, etag IS NOT NULL AS has_etag,
	   last_modified BETWEEN now() - interval '1 hour' AND now() + interval '1 minute' AS recent,
	   content_type, metadata
FROM objs WHERE key NOT LIKE 'page/%';
SELECT count(*), sum(size) FROM objs;
-- fake-gcs-server's etag is the base64 MD5 of the content (GCS's own is opaque)
SELECT etag = encode(decode(md5('spaces'), 'hex'), 'base64') AS md5_etag FROM objs WHERE key = 'dir/a b.txt';

-- key = 'x' is one GET of the object's resource; a missing key is no row
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT * FROM objs WHERE key = 'dir/a b.txt';
SELECT key, size, content_type, metadata FROM objs WHERE key = 'dir/a b.txt';
SELECT key, size, content_type, metadata FROM objs WHERE key = 'dir/sub/deep.txt';
SELECT key, size, content_type, metadata FROM objs WHERE key = 'dir/ünï✓.txt';
SELECT count(*) AS missing FROM objs WHERE key = 'dir/none.txt';
SELECT count(*) AS contradiction FROM objs WHERE key = 'top.txt' AND key = 'dir/x+y.txt';
-- hostile names, each found by a GET of its resource and by the listing
SELECT l.key, h.size = l.size AS same_size, h.etag = l.etag AS same_etag,
	   h.last_modified = l.last_modified AS same_time, h.metadata = l.metadata AS same_metadata
FROM objs l, LATERAL (SELECT * FROM objs h WHERE h.key = l.key) h
WHERE l.key LIKE 'dir/%' ORDER BY l.key;

-- key LIKE 'p%' is the listing's prefix; LIKE's escapes are honoured
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs WHERE key LIKE 'dir/%';
SELECT key FROM objs WHERE key LIKE 'dir/%';
SELECT key FROM objs WHERE key LIKE 'dir/sub/%';
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs WHERE key LIKE 'dir/100\%%';
SELECT key FROM objs WHERE key LIKE 'dir/100\%%';
SELECT key FROM objs WHERE key LIKE 'dir/a_b%';
SELECT key FROM objs WHERE key LIKE 'dir/ünï%';
-- conflicting prefixes: no request at all
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT key FROM objs WHERE key LIKE 'dir/%' AND key LIKE 'page/%';

-- key > / >= become startOffset, key < / <= stop the paging
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs WHERE key > 'dir/q' AND key <= 'page/02';
SELECT key FROM objs WHERE key > 'dir/q' AND key <= 'page/02';
-- startOffset is inclusive: key > an existing key does not return it
SELECT key FROM objs WHERE key > 'dir/x+y.txt' AND key < 'page/01';
SELECT key FROM objs WHERE key >= 'dir/x+y.txt' AND key < 'page/01';
SELECT key FROM objs WHERE key >= 'page/24';
SELECT key FROM objs WHERE key >= 'dir/ünï✓.txt' AND key < 'e';
-- the same answers without pushdown (a subquery PostgreSQL filters)
SELECT (SELECT array_agg(key ORDER BY key) FROM objs WHERE key > 'dir/q' AND key <= 'page/02')
	 = (SELECT array_agg(key ORDER BY key) FROM (SELECT key FROM objs OFFSET 0) s
		WHERE key > 'dir/q' AND key <= 'page/02') AS same_range,
	   (SELECT array_agg(key ORDER BY key) FROM objs WHERE key >= 'dir/a' AND key < 'dir/x')
	 = (SELECT array_agg(key ORDER BY key) FROM (SELECT key FROM objs OFFSET 0) s
		WHERE key >= 'dir/a' AND key < 'dir/x') AS same_range2,
	   (SELECT array_agg(key ORDER BY key) FROM objs WHERE key > 'dir/sub/deep.txt')
	 = (SELECT array_agg(key ORDER BY key) FROM (SELECT key FROM objs OFFSET 0) s
		WHERE key > 'dir/sub/deep.txt') AS same_range3;

-- paging: 10 names a page (maxResults), page tokens, one page in memory at a time
CREATE FOREIGN TABLE pages (key text COLLATE "C", size bigint)
	SERVER gcs OPTIONS (bucket 'meshlist', prefix 'page/', page_size '10');
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) SELECT * FROM pages;
SELECT count(*), min(key), max(key), sum(size) FROM pages;
SELECT string_agg(key, ',' ORDER BY key) FROM pages WHERE key > 'page/08' AND key < 'page/13';
-- a start past the first page, then pages from there: 2 requests for 16 names
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) SELECT key FROM pages WHERE key > 'page/09';
-- an upper bound ends the paging early: one page read
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) SELECT key FROM pages WHERE key < 'page/04';
-- a key outside the table's prefix is not in the table (no request)
SELECT count(*) FROM pages WHERE key = 'top.txt';

-- without the "C" collation, ranges are not pushed (LIKE and = still are)
CREATE FOREIGN TABLE objs_default (key text, size bigint) SERVER gcs OPTIONS (bucket 'meshlist');
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs_default WHERE key > 'page/2' AND key LIKE 'page/%';
SELECT count(*) FROM objs_default WHERE key > 'page/2' AND key LIKE 'page/%';

-- head_each: a GET per listed name (GCS's listing has the columns already)
CREATE FOREIGN TABLE objs_head (key text COLLATE "C", content_type text, metadata jsonb)
	SERVER gcs OPTIONS (bucket 'meshlist', head_each 'true');
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT key, content_type, metadata FROM objs_head WHERE key LIKE 'dir/%';
SELECT (SELECT array_agg(row(key, content_type, metadata::text) ORDER BY key) FROM objs_head WHERE key LIKE 'dir/%')::text
	 = (SELECT array_agg(row(key, content_type, metadata::text) ORDER BY key) FROM objs WHERE key LIKE 'dir/%')::text
	 AS same_as_listing;

-- a prepared statement keeps its pushdown under a generic plan
PREPARE by_key(text) AS SELECT key, size FROM objs WHERE key = $1;
EXECUTE by_key('top.txt');
EXECUTE by_key('dir/x+y.txt');
EXECUTE by_key('dir/a&b=c.txt');
EXECUTE by_key('dir/q?#frag.txt');
EXECUTE by_key('dir/100%.txt');
EXECUTE by_key('dir/none');
EXECUTE by_key('page/01');
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) EXECUTE by_key('page/02');
PREPARE by_prefix(text) AS SELECT count(*) FROM objs WHERE key LIKE $1 || '%';
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_prefix('page/1');
EXECUTE by_prefix('page/1');

-- errors: a missing bucket (GCS's reason and message)
CREATE FOREIGN TABLE nobucket (key text) SERVER gcs OPTIONS (bucket 'mesh-no-such-bucket');
SELECT * FROM nobucket;
-- a 404 of an object's resource is no row (whether the key or the bucket is missing)
SELECT count(*) FROM nobucket WHERE key = 'x';

-- credentials: a static access token, sent as a bearer token (the stand-in's
-- proxy refuses requests without one it knows)
RESET ROLE;
CREATE SERVER gcs_token FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint :'proxy_url', bucket 'meshlist');
CREATE SERVER gcs_sa FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint :'proxy_url', bucket 'meshlist');
CREATE SERVER gcs_sa_wrong FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint :'proxy_url', bucket 'meshlist');
GRANT USAGE ON FOREIGN SERVER gcs_token, gcs_sa, gcs_sa_wrong TO gcs_app;
SET ROLE gcs_app;
SET search_path = gcs_app;
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs_token OPTIONS (access_token 'mesh_gcs_static_token');
CREATE FOREIGN TABLE objs_token (key text COLLATE "C", size bigint, metadata jsonb) SERVER gcs_token;
-- (the counters shown are grants and refusals only: the hub's metrics
-- worker checks every server's health now and then, as a role without a
-- user mapping here, so the proxy's own counts vary with its timing; and
-- mesh.health() checks every server, so it stays out of counted parts)
\! bash "$MESH_HARNESS" gcs-grants-reset
SELECT count(*), sum(size) FROM objs_token;
SELECT * FROM objs_token WHERE key = 'dir/a b.txt';
-- a static token is no grant
\! bash "$MESH_HARNESS" gcs-grants grants refused
SELECT server, ok, error FROM mesh.health() WHERE server = 'gcs_token';
-- a token the proxy does not know: 401 with Google's words, no token shown
ALTER USER MAPPING FOR CURRENT_USER SERVER gcs_token OPTIONS (SET access_token 'mesh_gcs_revoked_token');
SELECT * FROM objs_token;
SELECT * FROM objs_token WHERE key = 'top.txt';
SELECT server, ok, error FROM mesh.health() WHERE server = 'gcs_token';
-- anonymous requests are refused there
ALTER USER MAPPING FOR CURRENT_USER SERVER gcs_token OPTIONS (DROP access_token);
SELECT * FROM objs_token;

-- a service account: one JWT-bearer grant, then its token for every request
-- of the connection (3 statements, 3 requests to the store: 1 grant)
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs_sa OPTIONS (service_account_json :'sa_json');
CREATE FOREIGN TABLE objs_sa (key text COLLATE "C", size bigint, content_type text) SERVER gcs_sa;
\! bash "$MESH_HARNESS" gcs-grants-reset
SELECT count(*), sum(size) FROM objs_sa;
SELECT * FROM objs_sa WHERE key = 'dir/ünï✓.txt';
SELECT count(*) FROM objs_sa WHERE key LIKE 'page/%';
\! bash "$MESH_HARNESS" gcs-grants grants refused scope
-- the health check grants on its own (it shares nothing with connections)
SELECT server, ok, error FROM mesh.health() WHERE server = 'gcs_sa';
\! bash "$MESH_HARNESS" gcs-grants grants
-- a token about to expire is granted anew: tokens of 4 s are renewed 2 s
-- early (a token is kept until 60 s before it expires, or half its life)
\! bash "$MESH_HARNESS" gcs-token-ttl 4
\! bash "$MESH_HARNESS" gcs-grants-reset
-- (a changed user mapping closes the connection, and its token with it)
ALTER USER MAPPING FOR CURRENT_USER SERVER gcs_sa OPTIONS (SET service_account_json :'sa_json');
SELECT count(*) FROM objs_sa;
SELECT count(*) FROM objs_sa;
SELECT pg_sleep(2.5);
SELECT count(*) FROM objs_sa;
\! bash "$MESH_HARNESS" gcs-grants grants refused
\! bash "$MESH_HARNESS" gcs-token-ttl 3599
-- the same account with another key: the token endpoint's refusal, shown
-- without the assertion or any part of the key
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs_sa_wrong OPTIONS (service_account_json :'sa_wrong_json');
CREATE FOREIGN TABLE objs_sa_wrong (key text) SERVER gcs_sa_wrong;
\! bash "$MESH_HARNESS" gcs-grants-reset
SELECT * FROM objs_sa_wrong;
\! bash "$MESH_HARNESS" gcs-grants grants refused
SELECT server, ok, error FROM mesh.health() WHERE server = 'gcs_sa_wrong';
DO $$
BEGIN
	PERFORM * FROM objs_sa_wrong;
EXCEPTION WHEN OTHERS THEN
	DECLARE
		msg text;
		detail text;
		hint text;
	BEGIN
		GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
		RAISE NOTICE 'sqlstate %, secret shown: %', SQLSTATE,
			(msg || detail || hint) ~ '(PRIVATE KEY|MII|eyJ|assertion=|ya29)';
	END;
END $$;
-- no secret in what the role can see of the servers
SELECT server, options - 'endpoint' AS options, options ? 'endpoint' AS has_endpoint
FROM mesh.backends() WHERE server LIKE 'gcs%' ORDER BY 1;
SELECT count(*) AS secrets_shown FROM mesh.backends()
WHERE options::text ~ '(mesh_gcs_static_token|mesh_gcs_revoked_token|PRIVATE KEY|service_account)';

-- the token endpoint unreachable, hanging, or answering garbage
RESET ROLE;
CREATE SERVER gcs_tok_down FOREIGN DATA WRAPPER mesh_gcs
	OPTIONS (endpoint :'proxy_url', bucket 'meshlist', token_uri :'down_token_uri');
CREATE SERVER gcs_tok_hang FOREIGN DATA WRAPPER mesh_gcs
	OPTIONS (endpoint :'proxy_url', bucket 'meshlist', token_uri :'hang_token_uri', timeout_ms '300');
CREATE SERVER gcs_tok_garbage FOREIGN DATA WRAPPER mesh_gcs
	OPTIONS (endpoint :'proxy_url', bucket 'meshlist', token_uri :'garbage_token_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs_tok_down OPTIONS (service_account_json :'sa_json');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs_tok_hang OPTIONS (service_account_json :'sa_json');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs_tok_garbage OPTIONS (service_account_json :'sa_json');
CREATE FOREIGN TABLE tok_down (key text) SERVER gcs_tok_down;
CREATE FOREIGN TABLE tok_hang (key text) SERVER gcs_tok_hang;
CREATE FOREIGN TABLE tok_garbage (key text) SERVER gcs_tok_garbage;
\set VERBOSITY terse
SELECT * FROM tok_down;
SELECT * FROM tok_hang;
\set VERBOSITY default
SELECT * FROM tok_garbage;
-- (health: a refused connection and garbage fail at the grant; the hanging
-- endpoint is cut by the health check's own limit)
SELECT server, ok, error ~ '^token request: ' AS at_grant, error ~ '^no answer within 1000 ms' AS cut
FROM mesh.health(1000) WHERE server IN ('gcs_tok_down', 'gcs_tok_hang', 'gcs_tok_garbage') ORDER BY 1;

-- unreachable, hanging and garbage-serving stores: errors naming the server
CREATE SERVER gcs_down FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint :'down_url', bucket 'b');
CREATE SERVER gcs_hang FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint :'hang_url', bucket 'b', timeout_ms '300');
CREATE SERVER gcs_garbage FOREIGN DATA WRAPPER mesh_gcs OPTIONS (endpoint :'garbage_url', bucket 'b');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs_down OPTIONS (access_token 'mesh_gcs_static_token');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs_hang OPTIONS (access_token 'mesh_gcs_static_token');
CREATE USER MAPPING FOR CURRENT_USER SERVER gcs_garbage OPTIONS (access_token 'mesh_gcs_static_token');
CREATE FOREIGN TABLE down_objs (key text) SERVER gcs_down;
CREATE FOREIGN TABLE hang_objs (key text) SERVER gcs_hang;
CREATE FOREIGN TABLE garbage_objs (key text) SERVER gcs_garbage;
\set VERBOSITY terse
SELECT * FROM down_objs;
SELECT * FROM hang_objs;
\set VERBOSITY default
SELECT * FROM garbage_objs;
SELECT * FROM garbage_objs WHERE key = 'x';
SELECT server, ok, error IS NOT NULL AS has_error, error ~ '^malformed answer' AS malformed
FROM mesh.health(1000) WHERE server IN ('gcs_down', 'gcs_hang', 'gcs_garbage') ORDER BY 1;

-- a column that is not an object attribute; a table without a bucket
CREATE FOREIGN TABLE objs_misfit (key text, owner text) SERVER gcs;
SELECT * FROM objs_misfit;
CREATE FOREIGN TABLE objs_nobucket (key text) SERVER gcs_down OPTIONS (prefix 'x/');
ALTER SERVER gcs_down OPTIONS (DROP bucket);
SELECT * FROM objs_nobucket;

-- contents tables (the object-store layer's reading, through this dialect's
-- ranged GETs): CSV objects under hive partitions, one pruned before any GET
\! bash "$MESH_HARNESS" gcs-put meshlist 'read/dt=2026-12-01/a.csv' "$(printf 'id,name\n1,Ann\n2,"Bob, Jr."\n')" text/csv
\! bash "$MESH_HARNESS" gcs-put meshlist 'read/dt=2026-12-02/b.csv' "$(printf 'id,name\n3,Cy\n')" text/csv
SET ROLE gcs_app;
CREATE FOREIGN TABLE read_rows (id int, name text, dt date, _key text)
	SERVER gcs OPTIONS (path 'read/dt=*/*.csv', header 'true', read_chunk '1024');
SELECT * FROM read_rows ORDER BY id;
EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT id, name FROM read_rows WHERE dt = '2026-12-02';
DROP FOREIGN TABLE read_rows;
RESET ROLE;

-- writing: mesh.export as one media upload (X-Goog-Hash md5), read back
-- through a contents table; above part_size it is refused before any
-- request (resumable uploads are not built); the lake sink and verify
SET ROLE gcs_app;
SELECT key, rows, requests FROM mesh.export('SELECT g AS id, ''row '' || g AS name FROM generate_series(1, 3) g',
	'gcs', 'exp/small.csv');
CREATE FOREIGN TABLE exp_rows (id int, name text, _key text)
	SERVER gcs OPTIONS (path 'exp/*.csv', header 'true');
SELECT * FROM exp_rows ORDER BY id;
DROP FOREIGN TABLE exp_rows;
SELECT * FROM mesh.export('SELECT repeat(''x'', 1000) FROM generate_series(1, 2000)',
	'gcs', 'exp/big.csv', NULL, '{"part_size": 1048576}');
CREATE TABLE lake_t (id int PRIMARY KEY, v text);
INSERT INTO lake_t VALUES (1, 'one'), (2, 'two');
-- a path of this run's own: the store's data outlives a run
SELECT 'lake/' || to_char(clock_timestamp(), 'YYYYMMDDHH24MISSUS') || '/' AS lake_path \gset
SELECT mesh.replicate('lake_t', 'gcs', jsonb_build_object('path', :'lake_path')) > 0 AS replicating;
SELECT mesh.wait_for_sync();
UPDATE lake_t SET v = 'uno' WHERE id = 1;
DELETE FROM lake_t WHERE id = 2;
INSERT INTO lake_t VALUES (3, 'three');
SELECT mesh.wait_for_sync();
SELECT target, source_rows, target_rows, missing, extra, mismatched, consistent FROM mesh.verify('lake_t');
SELECT mesh.unreplicate('lake_t', 'gcs');
DROP TABLE lake_t;
RESET ROLE;

SET client_min_messages = warning;
DROP SERVER IF EXISTS gcs, gcs_token, gcs_sa, gcs_sa_wrong, gcs_tok_down, gcs_tok_hang, gcs_tok_garbage,
	gcs_down, gcs_hang, gcs_garbage CASCADE;
DROP SCHEMA gcs_app CASCADE;
REVOKE USAGE ON SCHEMA mesh FROM gcs_app;
DROP ROLE gcs_app;
RESET client_min_messages;
