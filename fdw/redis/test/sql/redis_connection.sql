-- servers: redis redis_auth
-- Authentication, connection caching and invalidation, recovery after a
-- Redis restart, and secrets kept out of errors and EXPLAIN.
\getenv redis_port MESH_REDIS_PORT
\getenv auth_port MESH_REDIS_AUTH_PORT
\getenv down_port MESH_DOWN_PORT
\set VERBOSITY terse

-- a password-protected Redis without credentials
CREATE SERVER secure FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port :'auth_port', timeout_ms '2000');
CREATE FOREIGN TABLE secure_kv (key text, value text) SERVER secure OPTIONS (key_prefix 'sec:');
SELECT * FROM secure_kv;
-- a wrong password: the error carries Redis' message, never the password
CREATE USER MAPPING FOR CURRENT_USER SERVER secure OPTIONS (password 'wrong_pw_value');
DO $$
BEGIN
	PERFORM * FROM secure_kv;
	RAISE EXCEPTION 'expected an authentication error';
EXCEPTION WHEN fdw_error THEN
	RAISE NOTICE 'error: %', SQLERRM;
	IF SQLERRM LIKE '%wrong_pw_value%' THEN
		RAISE EXCEPTION 'the password leaked into the error';
	END IF;
END $$;
-- ALTER USER MAPPING drops the cached connection: the right password works
ALTER USER MAPPING FOR CURRENT_USER SERVER secure OPTIONS (SET password 'redis_secret_pw');
INSERT INTO secure_kv VALUES ('a', 'secret data');
SELECT * FROM secure_kv;
-- an ACL user and its password
ALTER USER MAPPING FOR CURRENT_USER SERVER secure
	OPTIONS (ADD user 'meshuser', SET password 'meshuser_pw');
SELECT * FROM secure_kv;
SELECT * FROM mesh.execute('secure', 'ACL WHOAMI');
-- the password appears in no EXPLAIN output and no catalog view of mesh
DO $$
DECLARE
	line text;
BEGIN
	FOR line IN EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM secure_kv WHERE key = 'a' LOOP
		IF line LIKE '%meshuser_pw%' THEN
			RAISE EXCEPTION 'the password leaked into EXPLAIN: %', line;
		END IF;
	END LOOP;
END $$;
SELECT count(*) AS leaks FROM mesh.backends() WHERE options::text LIKE '%meshuser_pw%';
SELECT count(*) AS leaks FROM mesh.health() WHERE error LIKE '%meshuser_pw%';

-- ALTER SERVER drops the cached connection: the next query uses the new one
CREATE SERVER moving FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE FOREIGN TABLE moving_kv (key text, value text) SERVER moving OPTIONS (key_prefix 'sec:');
SELECT * FROM mesh.execute('moving', 'SET sec:a plain-redis');
SELECT * FROM moving_kv WHERE key = 'a';
CREATE USER MAPPING FOR CURRENT_USER SERVER moving OPTIONS (password 'redis_secret_pw');
ALTER SERVER moving OPTIONS (SET port :'auth_port');
SELECT * FROM moving_kv WHERE key = 'a';
-- a server that is down: a clear error, within the timeout
ALTER SERVER moving OPTIONS (SET port :'down_port');
DO $$ BEGIN PERFORM * FROM moving_kv;
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'error: %', regexp_replace(SQLERRM, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT');
END $$;
ALTER SERVER moving OPTIONS (SET port :'redis_port');
DROP USER MAPPING FOR CURRENT_USER SERVER moving;
SELECT * FROM moving_kv WHERE key = 'a';

-- Redis restarted while this backend holds a connection: the first
-- statement fails clearly, the next one reconnects by itself
SELECT * FROM mesh.execute('moving', 'PING');
\! bash "$MESH_HARNESS" restart-redis >/dev/null 2>&1
SELECT * FROM mesh.execute('moving', 'PING');
SELECT * FROM mesh.execute('moving', 'PING');
INSERT INTO moving_kv VALUES ('after', 'restart');
SELECT * FROM moving_kv ORDER BY key;
-- the same through a scan and inside a transaction with a savepoint
\! bash "$MESH_HARNESS" restart-redis >/dev/null 2>&1
BEGIN;
SAVEPOINT s;
SELECT * FROM moving_kv;
ROLLBACK TO s;
SELECT count(*) FROM moving_kv;
COMMIT;

-- malformed commands and Redis errors are SQL errors
SELECT * FROM mesh.execute('moving', '');
SELECT * FROM mesh.execute('moving', 'GET "unterminated');
SELECT * FROM mesh.execute('moving', 'NOSUCHCOMMAND x');

DROP SERVER secure CASCADE;
DROP SERVER moving CASCADE;
