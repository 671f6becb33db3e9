-- servers: s3 s3_tls hang garbage
-- mesh_s3 against versitygw 1.8.0 (it checks SigV4: a wrong secret is a
-- 403): a bucket listing as a foreign table, read by a non-superuser role.
-- Objects are put by the harness (curl --aws-sigv4): hostile key names,
-- metadata, 25 objects under page/ for paging.  Every condition is
-- rechecked by PostgreSQL: the checks compare pushed-down answers with
-- the same question asked without pushdown.
\getenv s3_port MESH_S3_PORT
\getenv s3_tls_port MESH_S3_TLS_PORT
\getenv test_dir MESH_TEST_DIR
\getenv down_port MESH_DOWN_PORT
\getenv hang_port MESH_HANG_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\set s3_url 'http://127.0.0.1:' :s3_port
\set s3_vurl 'http://localhost:' :s3_port
\set s3_tls_url 'https://127.0.0.1:' :s3_tls_port
\set tls_ca :test_dir '/tls/ca.crt'
\set down_url 'http://127.0.0.1:' :down_port
\set hang_url 'http://127.0.0.1:' :hang_port
\set garbage_url 'http://127.0.0.1:' :garbage_port

-- objects, put through the S3 API
\! bash "$MESH_HARNESS" s3-mkbucket meshlist
\! bash "$MESH_HARNESS" s3-put meshlist top.txt 'top' text/plain
\! bash "$MESH_HARNESS" s3-put meshlist 'dir/a b.txt' 'spaces' text/plain color=blue Owner=Ann
\! bash "$MESH_HARNESS" s3-put meshlist 'dir/ünï✓.txt' 'unicode' 'text/plain; charset=utf-8'
\! bash "$MESH_HARNESS" s3-put meshlist 'dir/x+y.txt' 'plus'
\! bash "$MESH_HARNESS" s3-put meshlist 'dir/a&b=c.txt' 'amp'
\! bash "$MESH_HARNESS" s3-put meshlist 'dir/q?#frag.txt' 'query and fragment'
\! bash "$MESH_HARNESS" s3-put meshlist 'dir/100%.txt' 'percent'
\! bash "$MESH_HARNESS" s3-put meshlist 'dir/sub/deep.txt' 'deep' application/json note='x "y"'
\! bash -c 'for i in $(seq -w 1 25); do bash "$MESH_HARNESS" s3-put meshlist "page/$i" "p$i" || exit 1; done'

-- options: checked at CREATE, secrets only in a user mapping
CREATE SERVER s3_bad FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpoint :'s3_url', secret_access_key 'x');
CREATE SERVER s3_bad FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpont :'s3_url');
CREATE SERVER s3_bad FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpoint 'ftp://x');
CREATE SERVER s3_bad FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpoint 'http://x/?a=b');
CREATE SERVER s3_bad FOREIGN DATA WRAPPER mesh_s3 OPTIONS (region 'Not A Region');
CREATE SERVER s3_bad FOREIGN DATA WRAPPER mesh_s3 OPTIONS (addressing 'dns');
CREATE SERVER s3 FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpoint :'s3_url', bucket 'meshlist');
CREATE USER MAPPING FOR CURRENT_USER SERVER s3 OPTIONS (access_key_id 'mesh_s3_access');
CREATE USER MAPPING FOR CURRENT_USER SERVER s3 OPTIONS (session_token 'tok');
CREATE FOREIGN TABLE s3_bad (key text) SERVER s3 OPTIONS (page_size '0');
CREATE FOREIGN TABLE s3_bad (key text) SERVER s3 OPTIONS (head_each 'maybe');

-- the application role: USAGE on the server, its own user mapping and tables
CREATE ROLE s3_app;
GRANT USAGE ON FOREIGN SERVER s3 TO s3_app;
CREATE SCHEMA s3_app AUTHORIZATION s3_app;
GRANT USAGE ON SCHEMA mesh TO s3_app;
SET ROLE s3_app;
SET search_path = s3_app;
CREATE USER MAPPING FOR CURRENT_USER SERVER s3
	OPTIONS (access_key_id 'mesh_s3_access', secret_access_key 'mesh_s3_secret_key');
SELECT server, kind, ok, version, error FROM mesh.health() WHERE server = 's3';
-- key COLLATE "C": S3 orders keys bytewise, so range conditions can be pushed
CREATE FOREIGN TABLE objs (key text COLLATE "C", size bigint, etag text,
	last_modified timestamptz, content_type text, metadata jsonb)
	SERVER s3 OPTIONS (bucket 'meshlist');

-- the full listing: content_type and metadata are not in ListObjectsV2
SELECT key, size, etag ~ '^"[0-9a-f]{32}"$' AS etag_ok,
	   last_modified BETWEEN now() - interval '1 hour' AND now() + interval '1 minute' AS recent,
	   content_type, metadata
FROM objs WHERE key NOT LIKE 'page/%';
SELECT count(*), sum(size) FROM objs;
-- etag is the MD5 of the content (a single-part PUT)
SELECT etag = '"' || md5('spaces') || '"' AS md5_etag FROM objs WHERE key = 'dir/a b.txt';

-- key = 'x' is one HEAD: content type and metadata too; a missing key is no row
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT * FROM objs WHERE key = 'dir/a b.txt';
SELECT key, size, content_type, metadata FROM objs WHERE key = 'dir/a b.txt';
SELECT key, size, content_type, metadata FROM objs WHERE key = 'dir/sub/deep.txt';
SELECT key, size, content_type FROM objs WHERE key = 'dir/ünï✓.txt';
SELECT count(*) AS missing FROM objs WHERE key = 'dir/none.txt';
SELECT count(*) AS contradiction FROM objs WHERE key = 'top.txt' AND key = 'dir/x+y.txt';
-- hostile names, each found by a HEAD and by the listing
SELECT l.key, h.size = l.size AS same_size, h.etag = l.etag AS same_etag
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

-- key > / >= become start-after, key < / <= stop the paging
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs WHERE key > 'dir/q' AND key <= 'page/02';
SELECT key FROM objs WHERE key > 'dir/q' AND key <= 'page/02';
SELECT key FROM objs WHERE key >= 'dir/x+y.txt' AND key < 'page/01';
SELECT key FROM objs WHERE key >= 'page/24';
SELECT key FROM objs WHERE key >= 'dir/ünï✓.txt' AND key < 'e';
-- the same answers without pushdown (a subquery PostgreSQL filters)
SELECT (SELECT array_agg(key ORDER BY key) FROM objs WHERE key > 'dir/q' AND key <= 'page/02')
	 = (SELECT array_agg(key ORDER BY key) FROM (SELECT key FROM objs OFFSET 0) s
		WHERE key > 'dir/q' AND key <= 'page/02') AS same_range;

-- paging: 10 keys a page, continuation tokens, one page in memory at a time
CREATE FOREIGN TABLE pages (key text COLLATE "C", size bigint)
	SERVER s3 OPTIONS (bucket 'meshlist', prefix 'page/', page_size '10');
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) SELECT * FROM pages;
SELECT count(*), min(key), max(key), sum(size) FROM pages;
SELECT string_agg(key, ',' ORDER BY key) FROM pages WHERE key > 'page/08' AND key < 'page/13';
-- an upper bound ends the paging early: one page read
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF) SELECT key FROM pages WHERE key < 'page/04';
-- a key outside the table's prefix is not in the table (no request)
SELECT count(*) FROM pages WHERE key = 'top.txt';

-- without the "C" collation, ranges are not pushed (LIKE and = still are)
CREATE FOREIGN TABLE objs_default (key text, size bigint) SERVER s3 OPTIONS (bucket 'meshlist');
EXPLAIN (VERBOSE, COSTS OFF) SELECT key FROM objs_default WHERE key > 'page/2' AND key LIKE 'page/%';
SELECT count(*) FROM objs_default WHERE key > 'page/2' AND key LIKE 'page/%';

-- head_each: a HEAD per listed key fills content_type and metadata
CREATE FOREIGN TABLE objs_head (key text COLLATE "C", content_type text, metadata jsonb)
	SERVER s3 OPTIONS (bucket 'meshlist', head_each 'true');
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT key, content_type, metadata FROM objs_head WHERE key LIKE 'dir/%';
SELECT key, content_type, metadata FROM objs_head WHERE key LIKE 'dir/%';
-- no HEAD when neither is selected
EXPLAIN (VERBOSE, COSTS OFF, ANALYZE, TIMING OFF, SUMMARY OFF)
SELECT key FROM objs_head WHERE key LIKE 'dir/%';

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

-- virtual-hosted-style addressing (bucket.localhost; curl resolves it to loopback)
RESET ROLE;
CREATE SERVER s3_virtual FOREIGN DATA WRAPPER mesh_s3
	OPTIONS (endpoint :'s3_vurl', addressing 'virtual', bucket 'meshlist');
GRANT USAGE ON FOREIGN SERVER s3_virtual TO s3_app;
SET ROLE s3_app;
SET search_path = s3_app;
CREATE USER MAPPING FOR CURRENT_USER SERVER s3_virtual
	OPTIONS (access_key_id 'mesh_s3_access', secret_access_key 'mesh_s3_secret_key');
CREATE FOREIGN TABLE objs_virtual (key text COLLATE "C", size bigint, content_type text)
	SERVER s3_virtual;
SELECT count(*), sum(size) FROM objs_virtual;
SELECT * FROM objs_virtual WHERE key = 'dir/a b.txt';
SELECT server, ok, error FROM mesh.health() WHERE server = 's3_virtual';

-- HTTPS (the same gateway with the harness's test certificate): verified
-- by default, so trusted only with the test CA as tls_ca_file
RESET ROLE;
CREATE SERVER tls_s3 FOREIGN DATA WRAPPER mesh_s3
	OPTIONS (endpoint :'s3_tls_url', bucket 'meshlist', tls_ca_file :'tls_ca');
CREATE SERVER tls_s3_unverified FOREIGN DATA WRAPPER mesh_s3
	OPTIONS (endpoint :'s3_tls_url', bucket 'meshlist');
GRANT USAGE ON FOREIGN SERVER tls_s3, tls_s3_unverified TO s3_app;
SET ROLE s3_app;
SET search_path = s3_app;
CREATE USER MAPPING FOR CURRENT_USER SERVER tls_s3
	OPTIONS (access_key_id 'mesh_s3_access', secret_access_key 'mesh_s3_secret_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER tls_s3_unverified
	OPTIONS (access_key_id 'mesh_s3_access', secret_access_key 'mesh_s3_secret_key');
CREATE FOREIGN TABLE objs_tls (key text COLLATE "C", size bigint) SERVER tls_s3;
CREATE FOREIGN TABLE objs_tls_unverified (key text) SERVER tls_s3_unverified;
SELECT count(*), sum(size) FROM objs_tls;
SELECT * FROM objs_tls WHERE key = 'dir/x+y.txt';
SELECT * FROM objs_tls_unverified;
SELECT server, ok, CASE WHEN ok THEN NULL WHEN error ~* 'certificate' THEN 'certificate not trusted'
	   ELSE error END AS error
FROM mesh.health() WHERE server LIKE 'tls_s3%' ORDER BY 1;

-- errors: a missing bucket (the server's code and message)
CREATE FOREIGN TABLE nobucket (key text) SERVER s3 OPTIONS (bucket 'mesh-no-such-bucket');
SELECT * FROM nobucket;
-- a HEAD's 404 does not say whether the key or the bucket is missing: no row
SELECT count(*) FROM nobucket WHERE key = 'x';
-- wrong credentials: 403 with the server's code and message, no secret shown
RESET ROLE;
CREATE SERVER s3_wrong FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpoint :'s3_url', bucket 'meshlist');
CREATE SERVER s3_nobucket FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpoint :'s3_url', bucket 'mesh-no-such-bucket');
GRANT USAGE ON FOREIGN SERVER s3_wrong, s3_nobucket TO s3_app;
SET ROLE s3_app;
SET search_path = s3_app;
CREATE USER MAPPING FOR CURRENT_USER SERVER s3_wrong
	OPTIONS (access_key_id 'mesh_s3_access', secret_access_key 'wrong_s3_secret_value');
CREATE USER MAPPING FOR CURRENT_USER SERVER s3_nobucket
	OPTIONS (access_key_id 'mesh_s3_access', secret_access_key 'mesh_s3_secret_key');
CREATE FOREIGN TABLE objs_wrong (key text, size bigint) SERVER s3_wrong;
SELECT * FROM objs_wrong;
-- the HEAD's answer has no body: the server's words come from a listing
SELECT * FROM objs_wrong WHERE key = 'top.txt';
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM objs_wrong WHERE key = 'top.txt';
SELECT server, ok, error FROM mesh.health() WHERE server IN ('s3_wrong', 's3_nobucket') ORDER BY 1;
-- a session token is sent (and signed): this server has no such token
ALTER USER MAPPING FOR CURRENT_USER SERVER s3_wrong
	OPTIONS (SET secret_access_key 'mesh_s3_secret_key', ADD session_token 'mesh_s3_session_tok');
SELECT * FROM objs_wrong;
-- an unknown access key
ALTER USER MAPPING FOR CURRENT_USER SERVER s3_wrong
	OPTIONS (SET access_key_id 'mesh_nobody', DROP session_token);
SELECT * FROM objs_wrong;
-- anonymous requests (no user mapping options) are refused by this server
ALTER USER MAPPING FOR CURRENT_USER SERVER s3_wrong
	OPTIONS (DROP access_key_id, DROP secret_access_key);
SELECT * FROM objs_wrong;
-- no secret in what the role can see of the servers
SELECT server, options - 'endpoint' AS options, options ? 'endpoint' AS has_endpoint
FROM mesh.backends() WHERE server LIKE 's3%' ORDER BY 1;
SELECT count(*) AS secrets_shown FROM mesh.backends()
WHERE options::text ~ '(mesh_s3_secret_key|wrong_s3_secret_value|mesh_s3_session_tok)';

-- unreachable, hanging and garbage-serving endpoints: errors naming the server
RESET ROLE;
CREATE SERVER s3_down FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpoint :'down_url', bucket 'b');
CREATE SERVER s3_hang FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpoint :'hang_url', bucket 'b', timeout_ms '300');
CREATE SERVER s3_garbage FOREIGN DATA WRAPPER mesh_s3 OPTIONS (endpoint :'garbage_url', bucket 'b');
CREATE USER MAPPING FOR CURRENT_USER SERVER s3_down OPTIONS (access_key_id 'a', secret_access_key 'mesh_s3_secret_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER s3_hang OPTIONS (access_key_id 'a', secret_access_key 'mesh_s3_secret_key');
CREATE USER MAPPING FOR CURRENT_USER SERVER s3_garbage OPTIONS (access_key_id 'a', secret_access_key 'mesh_s3_secret_key');
CREATE FOREIGN TABLE down_objs (key text) SERVER s3_down;
CREATE FOREIGN TABLE hang_objs (key text) SERVER s3_hang;
CREATE FOREIGN TABLE garbage_objs (key text) SERVER s3_garbage;
\set VERBOSITY terse
SELECT * FROM down_objs;
SELECT * FROM hang_objs;
\set VERBOSITY default
SELECT * FROM garbage_objs;
SELECT server, ok, error IS NOT NULL AS has_error FROM mesh.health(1000)
WHERE server IN ('s3_down', 's3_hang', 's3_garbage') ORDER BY 1;

-- a column that is not an object attribute
CREATE FOREIGN TABLE objs_misfit (key text, owner text) SERVER s3;
SELECT * FROM objs_misfit;
CREATE FOREIGN TABLE objs_nobucket (key text) SERVER s3_down OPTIONS (prefix 'x/');
ALTER SERVER s3_down OPTIONS (DROP bucket);
SELECT * FROM objs_nobucket;

SET client_min_messages = warning;
DROP SERVER s3, s3_virtual, tls_s3, tls_s3_unverified, s3_wrong, s3_nobucket, s3_down, s3_hang, s3_garbage CASCADE;
DROP SCHEMA s3_app CASCADE;
REVOKE USAGE ON SCHEMA mesh FROM s3_app;
DROP ROLE s3_app;
RESET client_min_messages;
