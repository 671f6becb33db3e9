-- servers: pg_remote redis
-- Credentials and what errors show, as a non-superuser application role:
-- a PostgreSQL target needs the route owner's user mapping and, for a
-- non-superuser, a password the remote actually asked for (postgres_fdw's
-- rules); mesh.health() shows only servers the caller has USAGE on; a
-- remote error quoting row values is redacted everywhere but the owner's
-- mesh.dead_letter (stats, views of other roles, status page, /metrics).
\getenv remote_port MESH_REMOTE_PG_PORT
\getenv redis_port MESH_REDIS_PORT
\! bash "$MESH_HARNESS" remote-sql "DROP TABLE IF EXISTS cred_people; CREATE TABLE cred_people (id int PRIMARY KEY, note text CONSTRAINT no_ssn CHECK (note !~ 'SSN'))"
\! redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" --scan --pattern 'cred:*' | xargs -r redis-cli -h 127.0.0.1 -p "$MESH_REDIS_PORT" del >/dev/null

SET client_min_messages = warning;
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app') THEN
		EXECUTE 'DROP OWNED BY app CASCADE';
		DROP ROLE app;
	END IF;
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alice') THEN
		EXECUTE 'DROP OWNED BY alice CASCADE';
		DROP ROLE alice;
	END IF;
END $$;
RESET client_min_messages;
CREATE ROLE app LOGIN;
CREATE ROLE alice LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw, mesh_redis TO app;
GRANT CREATE ON SCHEMA public TO app;
-- a server app was given no USAGE on
CREATE SERVER cred_hidden FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
-- the remote table as the superuser sees it (to check what was written)
CREATE SERVER cred_check FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');
CREATE USER MAPPING FOR CURRENT_USER SERVER cred_check
	OPTIONS (user 'remote_user', password 'remote_secret_pw');
CREATE FOREIGN TABLE cred_remote (id int, note text) SERVER cred_check
	OPTIONS (table_name 'cred_people');

SET ROLE app;
CREATE TABLE people (id int PRIMARY KEY, note text);
GRANT SELECT ON people TO alice;
CREATE SERVER cred_pg FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');
CREATE SERVER cred_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');

-- 1. no user mapping: refused as postgres_fdw refuses it
SELECT mesh.replicate('people', 'cred_pg', '{"table": "cred_people"}');

-- 2. a mapping without a password: a non-superuser needs one
CREATE USER MAPPING FOR app SERVER cred_pg OPTIONS (user 'remote_user');
SELECT mesh.replicate('people', 'cred_pg', '{"table": "cred_people"}');
-- only a superuser may waive it (postgres_fdw's validator)
ALTER USER MAPPING FOR app SERVER cred_pg OPTIONS (ADD password_required 'false');

-- 3. a password the remote never asks for: the remote trusts user postgres
-- (and the hub's OS user, libpq's default when the mapping names no user)
CREATE SERVER cred_trusted FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port :'remote_port', dbname 'remote_db');
CREATE USER MAPPING FOR app SERVER cred_trusted OPTIONS (user 'postgres', password 'anything');
SELECT mesh.replicate('people', 'cred_trusted', '{"table": "cred_people"}');
ALTER USER MAPPING FOR app SERVER cred_trusted OPTIONS (DROP user);
SELECT mesh.replicate('people', 'cred_trusted', '{"table": "cred_people"}');
-- postgres_fdw itself says the same
CREATE FOREIGN TABLE trusted_people (id int, note text) SERVER cred_trusted
	OPTIONS (table_name 'cred_people');
SELECT count(*) FROM trusted_people;
SELECT count(*) FROM mesh.routes;

-- 4. the mapping with its password: the route works
ALTER USER MAPPING FOR app SERVER cred_pg OPTIONS (ADD password 'remote_secret_pw');
SELECT mesh.replicate('people', 'cred_pg', '{"table": "cred_people"}') > 0 AS replicated;
SELECT mesh.replicate('people', 'cred_cache', '{"key_prefix": "cred:"}') > 0 AS replicated;
RESET ROLE;
-- (capture as a non-superuser writer is issue 14's finding 6: the rows are
-- written by the superuser here; the route still runs as app)
INSERT INTO people VALUES (1, 'first');
SELECT mesh.wait_for_sync(30000);
SELECT target, source_rows, target_rows, consistent FROM mesh.verify('people') ORDER BY target;

-- 5. mesh.health(): app sees the servers it has USAGE on, pinged with its
-- own mappings; a superuser sees every server
SET ROLE app;
SELECT server, kind, ok, error FROM mesh.health(2000) ORDER BY server;
RESET ROLE;
SELECT count(*) AS hidden_seen_by_superuser FROM mesh.health(2000) WHERE server = 'cred_hidden';

-- 6. the mapping dropped later: the worker refuses, the error is in
-- mesh.stats, nothing is written
CREATE FUNCTION wait_for_error(t name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	err text;
BEGIN
	FOR i IN 1..3000 LOOP
		SELECT last_error INTO err FROM mesh.stats WHERE target = t;
		IF err IS NOT NULL THEN
			RETURN err;
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN 'no error seen';
END $$;
SET ROLE app;
DROP USER MAPPING FOR app SERVER cred_pg;
RESET ROLE;
INSERT INTO people VALUES (3, 'after the mapping was dropped');
SELECT wait_for_error('cred_pg');
SELECT mesh.wait_for_sync(30000, 'cred_cache');
SELECT pg_sleep(0.5);
SELECT count(*) AS written FROM cred_remote WHERE id = 3;
SET ROLE app;
CREATE USER MAPPING FOR app SERVER cred_pg OPTIONS (user 'remote_user', password 'remote_secret_pw');
RESET ROLE;
SELECT mesh.wait_for_sync(30000);
SELECT target, source_rows, target_rows, consistent FROM mesh.verify('people') ORDER BY target;
SELECT target, last_error FROM mesh.stats ORDER BY target;

-- 7. a poison row: the remote CHECK refuses it and its error quotes the row
INSERT INTO people VALUES (2, 'SSN 123-45-6789');
SELECT mesh.wait_for_sync(30000);
-- the owner's dead letter keeps the whole error
SET ROLE app;
SELECT target, event_id > 0 AS has_event, key, error FROM mesh.dead_letter;
-- a role that may read the table but does not own it sees no dead letter at all
SET ROLE alice;
SELECT target, key, error FROM mesh.dead_letter;
RESET ROLE;
-- mesh.stats never carries it
SELECT target, dead, last_error FROM mesh.stats ORDER BY target;
SELECT count(*) AS stored_public_with_value FROM mesh.dead_letter_store
WHERE public_error ~ '123-45-6789';
-- neither do the status page, /metrics and /health (once the page lists the dead letter)
\! bash -c 'u="http://127.0.0.1:$MESH_METRICS_PORT"; for i in $(seq 300); do curl -s -m 5 "$u/" | grep -q "no_ssn" && break; sleep 0.1; done; curl -s -m 5 "$u/" | grep -q "constraint &quot;no_ssn&quot;" && echo "status page names the constraint" || echo "status page lacks the constraint"; for p in / /metrics /health; do if curl -s -m 5 "$u$p" | grep -q "123-45-6789"; then echo "$p shows the row value"; else echo "$p: no row value"; fi; done'

-- 8. the one redaction helper on each backend's error shapes
SELECT mesh._redact_error('PostgreSQL server "pg" failed to apply changes',
	'new row for relation "t" violates check constraint "no_ssn" (Failing row contains (2, SSN 123-45-6789).)',
	'23514', 'no_ssn') AS postgres_check;
SELECT mesh._redact_error('PostgreSQL server "pg" failed to apply changes',
	'duplicate key value violates unique constraint "t_email_key" (Key (email)=(a@b.c) already exists.)',
	'23505', 't_email_key') AS postgres_unique;
SELECT mesh._redact_error('MongoDB server "m" refused the document: E11000 duplicate key error collection: db.people index: ssn_1 dup key: { ssn: "123-45-6789" } (error 11000)') AS mongodb;
SELECT mesh._redact_error('ClickHouse server "ch" answered HTTP 500 to a replication write',
	'Code: 53. DB::Exception: Type mismatch in IN or VALUES section. Expected: Int32. Got: String: ''123-45-6789''',
	'HV000') AS clickhouse;
SELECT mesh._redact_error('Elasticsearch refused the document (HTTP 400): mapper_parsing_exception: failed to parse field [ssn] of type [long] in document with id ''2''. Preview of field''s value: ''123-45-6789''') AS elasticsearch;
SELECT mesh._redact_error('Redis server "r" rejected a replication write',
	'WRONGTYPE Operation against a key holding the wrong kind of value', 'HV000') AS redis;
SELECT mesh._redact_error('user mapping not found for user "app", server "pg"', NULL, '42704') AS own_message;
-- a missing table or column names objects only: kept whole (the route waits for a fix)
SELECT mesh._redact_error('PostgreSQL server "pg" failed an upsert',
	'column "note" of relation "t" does not exist', '42703') AS missing_column;
SET ROLE app;
SELECT mesh._redact_error('x');
RESET ROLE;

-- clean up
SET ROLE app;
SELECT mesh.unreplicate('people', 'cred_pg');
SELECT mesh.unreplicate('people', 'cred_cache');
RESET ROLE;
DROP FUNCTION wait_for_error(name);
DROP FOREIGN TABLE cred_remote;
DROP SERVER cred_check, cred_hidden CASCADE;
SET client_min_messages = warning;
DROP OWNED BY app CASCADE;
DROP OWNED BY alice CASCADE;
RESET client_min_messages;
DROP ROLE app;
DROP ROLE alice;
\! bash "$MESH_HARNESS" remote-sql "DROP TABLE cred_people"
