-- servers: hang garbage mongodb
-- MongoDB connections: option validation, credentials (FerretDB's SCRAM
-- authentication) kept out of every message, a server that is down and
-- one that hangs (clear errors within timeout_ms), mesh.health, and
-- mesh.execute's commands, pipelines and errors.
\getenv mongo_port MESH_MONGO_PORT
\getenv down_port MESH_DOWN_PORT
\getenv hang_port MESH_HANG_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\getenv tls_port MESH_MONGO_TLS_PORT
\getenv test_dir MESH_TEST_DIR
\set ca :test_dir '/tls/ca.crt'
\set VERBOSITY terse

-- err_of(q): the error q raises (message and detail), ports masked so the
-- output does not depend on the harness's ports
CREATE FUNCTION err_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	d text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
	RETURN regexp_replace(SQLERRM || coalesce(E'\n' || nullif(d, ''), ''),
						  '127\.0\.0\.1:[0-9]+', '127.0.0.1:<port>', 'g');
END $$;

-- options are validated at CREATE/ALTER time
CREATE SERVER m_bad FOREIGN DATA WRAPPER mesh_mongodb OPTIONS (uri 'http://nope');
CREATE SERVER m_bad FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (uri 'mongodb://admin:hunter2@127.0.0.1:27017/db');
CREATE SERVER m_bad FOREIGN DATA WRAPPER mesh_mongodb OPTIONS (port '70000');
CREATE SERVER m_bad FOREIGN DATA WRAPPER mesh_mongodb OPTIONS (tls 'maybe');
CREATE SERVER m_bad FOREIGN DATA WRAPPER mesh_mongodb OPTIONS (numeric_as 'float');
CREATE SERVER m_bad FOREIGN DATA WRAPPER mesh_mongodb OPTIONS (databse 'x');
CREATE SERVER m_bad FOREIGN DATA WRAPPER mesh_mongodb OPTIONS (password 'secret_in_server');
CREATE SERVER m_ok FOREIGN DATA WRAPPER mesh_mongodb OPTIONS (host '127.0.0.1', port :'mongo_port');
CREATE FOREIGN TABLE t_bad (_id text) SERVER m_ok OPTIONS (collection 'system.users');
CREATE FOREIGN TABLE t_bad (_id text) SERVER m_ok OPTIONS (collection 'a$b');
CREATE FOREIGN TABLE t_bad (_id text OPTIONS (document 'yes please')) SERVER m_ok;
-- a server without database
CREATE USER MAPPING FOR CURRENT_USER SERVER m_ok OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
SELECT * FROM mesh.execute('m_ok', '{"ping": 1}');
-- uri and host together
ALTER SERVER m_ok OPTIONS (ADD uri 'mongodb://127.0.0.1:1/');
SELECT * FROM mesh.execute('m_ok', '{"ping": 1}');
DROP SERVER m_ok CASCADE;
-- a document column must be jsonb, json or text
CREATE SERVER m_types FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port :'mongo_port', database 'mesh_test');
CREATE USER MAPPING FOR CURRENT_USER SERVER m_types OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
CREATE FOREIGN TABLE t_doc (_id text, d int OPTIONS (document 'true')) SERVER m_types;
SELECT * FROM t_doc;
CREATE FOREIGN TABLE t_path (_id text, d int OPTIONS (field 'a..b')) SERVER m_types;
SELECT * FROM t_path;
DROP SERVER m_types CASCADE;

-- credentials: the uri form, a wrong password, none at all (the server's
-- own messages in DETAIL)
\set VERBOSITY default
\set uri 'mongodb://127.0.0.1:' :mongo_port '/?appname=mesh-test'
CREATE SERVER m_auth FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (uri :'uri', database 'mesh_test', timeout_ms '3000');
SELECT * FROM mesh.execute('m_auth', '{"find": "nothing"}');
CREATE USER MAPPING FOR CURRENT_USER SERVER m_auth OPTIONS (user 'mesh_mongo', password 'wrong_pw_value');
DO $$
BEGIN
	PERFORM * FROM mesh.execute('m_auth', '{"ping": 1}');
	RAISE EXCEPTION 'expected an authentication error';
EXCEPTION WHEN invalid_authorization_specification THEN
	RAISE NOTICE 'error: %', SQLERRM;
	IF SQLERRM LIKE '%wrong_pw_value%' THEN
		RAISE EXCEPTION 'the password leaked into the error';
	END IF;
END $$;
ALTER USER MAPPING FOR CURRENT_USER SERVER m_auth OPTIONS (DROP user);
SELECT * FROM mesh.execute('m_auth', '{"ping": 1}');
-- the right one (ALTER USER MAPPING drops the cached connection)
ALTER USER MAPPING FOR CURRENT_USER SERVER m_auth OPTIONS (ADD user 'mesh_mongo', SET password 'mesh_mongo_pw');
SELECT * FROM mesh.execute('m_auth', '{"connectionStatus": 1}') r WHERE r->>'ok' = '1';
SELECT r->'authInfo'->'authenticatedUsers' FROM mesh.execute('m_auth', '{"connectionStatus": 1}') r;
CREATE FOREIGN TABLE auth_t (_id text) SERVER m_auth OPTIONS (collection 'conn_nothing');
DO $$
DECLARE
	line text;
BEGIN
	FOR line IN EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM auth_t WHERE _id = 'x' LOOP
		IF line LIKE '%mongo_pw%' THEN
			RAISE EXCEPTION 'the password leaked into EXPLAIN: %', line;
		END IF;
	END LOOP;
END $$;
SELECT count(*) AS leaks FROM mesh.backends() WHERE options::text LIKE '%mongo_pw%';

-- mesh.execute: a command, a cursor command (every batch), a pipeline
SELECT r->>'ok' AS emptied FROM mesh.execute('m_auth',
	'{"delete": "conn_items", "deletes": [{"q": {}, "limit": 0}]}') r;
SELECT r->>'n' AS inserted FROM mesh.execute('m_auth', (SELECT jsonb_build_object('insert', 'conn_items',
	'documents', jsonb_agg(jsonb_build_object('_id', g, 'g', g % 3)))::text FROM generate_series(1, 250) g)) r;
SELECT count(*), min((r->>'_id')::int), max((r->>'_id')::int)
	FROM mesh.execute('m_auth', '{"find": "conn_items", "batchSize": 10}') r;
SELECT r FROM mesh.execute('m_auth', '[{"$group": {"_id": "$g", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]',
	'{"collection": "conn_items"}') r;
SELECT r FROM mesh.execute('m_auth', '[{"$match": {"_id": {"$lte": 2}}}, {"$addFields": {"when": {"$date": "2024-01-01T00:00:00Z"}, "big": {"$numberLong": "9007199254740993"}}}, {"$sort": {"_id": 1}}]',
	'{"collection": "conn_items"}') r;
-- errors: malformed JSON, not an object, not an array, an unknown command,
-- a bad parameter
SELECT * FROM mesh.execute('m_auth', '{"ping": ');
SELECT * FROM mesh.execute('m_auth', '[1]');
SELECT * FROM mesh.execute('m_auth', '{}');
SELECT * FROM mesh.execute('m_auth', '{"$match": {}}', '{"collection": "conn_items"}');
SELECT * FROM mesh.execute('m_auth', '{"noSuchCommand": 1}');
SELECT * FROM mesh.execute('m_auth', '[]', '{"collection": 5}');
SELECT * FROM mesh.execute('m_auth', '{"find": "x", "filter": {"_id": {"$oid": "nothex"}}}');

-- TLS (FerretDB's TLS listener, a certificate of the harness's test CA):
-- verified with tls_ca_file; refused without it; accepted unverified only
-- with tls_allow_invalid_certificates
CREATE SERVER m_tls FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port :'tls_port', database 'mesh_test', tls 'true',
			 tls_ca_file :'ca', timeout_ms '3000');
CREATE USER MAPPING FOR CURRENT_USER SERVER m_tls OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
SELECT r->>'ok' AS ok FROM mesh.execute('m_tls', '{"ping": 1}') r;
SELECT r->>'n' AS n FROM mesh.execute('m_tls', '{"count": "conn_items"}') r;
CREATE SERVER m_tls_noca FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port :'tls_port', database 'mesh_test', tls 'true', timeout_ms '2000');
CREATE USER MAPPING FOR CURRENT_USER SERVER m_tls_noca OPTIONS (user 'mesh_mongo', password 'mesh_mongo_pw');
SELECT err_of($$SELECT * FROM mesh.execute('m_tls_noca', '{"ping": 1}')$$);
\set VERBOSITY terse
ALTER SERVER m_tls_noca OPTIONS (ADD tls_allow_invalid_certificates 'true');
SELECT r->>'ok' AS ok FROM mesh.execute('m_tls_noca', '{"ping": 1}') r;

-- a server that is down, and one that accepts and never answers: clear
-- errors, within timeout_ms
CREATE SERVER m_down FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port :'down_port', database 'x', timeout_ms '1000');
CREATE USER MAPPING FOR CURRENT_USER SERVER m_down OPTIONS (user 'u', password 'down_pw_value');
CREATE FOREIGN TABLE down_t (_id text) SERVER m_down;
SELECT err_of('SELECT * FROM down_t');
CREATE SERVER m_hang FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port :'hang_port', database 'x', timeout_ms '1000');
CREATE FOREIGN TABLE hang_t (_id text) SERVER m_hang;
CREATE FUNCTION hang_ms() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	PERFORM * FROM hang_t;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN CASE WHEN clock_timestamp() - t0 < interval '4 s' THEN 'error within bounds: ' ELSE 'too slow: ' END
		|| regexp_replace(SQLERRM, '127\.0\.0\.1:[0-9]+', '127.0.0.1:<port>', 'g');
END $$;
SELECT hang_ms();

-- a server that answers garbage (HTTP) to the wire protocol: an error, no crash
CREATE SERVER m_garbage FOREIGN DATA WRAPPER mesh_mongodb
	OPTIONS (host '127.0.0.1', port :'garbage_port', database 'x', timeout_ms '1000');
SELECT err_of($$SELECT * FROM mesh.execute('m_garbage', '{"ping": 1}')$$);

-- mesh.health: the reachable server answers with its version, the others
-- are rows with ok = false, within the call's timeout
SELECT server, kind, ok, version IS NOT NULL AS has_version, error
	FROM mesh.health(1500) WHERE kind = 'mongodb' ORDER BY server;
SELECT count(*) AS leaks FROM mesh.health() WHERE error LIKE '%down_pw_value%' OR error LIKE '%mongo_pw%';

DROP FUNCTION hang_ms();
DROP FUNCTION err_of(text);
DROP SERVER m_auth, m_down, m_hang, m_tls, m_tls_noca, m_garbage CASCADE;
