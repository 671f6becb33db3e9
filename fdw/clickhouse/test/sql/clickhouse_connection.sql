-- servers: hang clickhouse garbage
-- ClickHouse connections: option validation, user/password auth, errors
-- carrying ClickHouse's message, a server answering garbage, a hanging
-- server and a hanging HTTP request (errors within timeout_ms), health.
\getenv ch_port MESH_CLICKHOUSE_PORT
\getenv garbage_port MESH_GARBAGE_PORT
\getenv hang_port MESH_HANG_PORT
\set ch_url 'http://127.0.0.1:' :ch_port
\set garbage_url 'http://127.0.0.1:' :garbage_port
\set slow_url 'http://127.0.0.1:' :garbage_port '/slow'
\set hang_url 'http://127.0.0.1:' :hang_port

-- option validation
CREATE SERVER bad FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url', databse 'x');
CREATE SERVER bad FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url', password 'secret');
CREATE SERVER bad FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url', database '');
CREATE SERVER bad FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url', timeout_ms '0');
CREATE SERVER ch_conn FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'ch_url');
CREATE FOREIGN TABLE bad_t (id int) SERVER ch_conn OPTIONS (batch_size '0');
CREATE FOREIGN TABLE bad_t (id int) SERVER ch_conn OPTIONS (tabel 'x');
CREATE FOREIGN TABLE bad_t (id int OPTIONS (column_nam 'x')) SERVER ch_conn;

SELECT * FROM mesh.execute('ch_conn', 'DROP DATABASE IF EXISTS mesh_conn');
SELECT * FROM mesh.execute('ch_conn', 'CREATE DATABASE mesh_conn');
SELECT * FROM mesh.execute('ch_conn', 'CREATE TABLE mesh_conn.t (id Int32) ENGINE = Memory');
SELECT * FROM mesh.execute('ch_conn', 'INSERT INTO mesh_conn.t VALUES (1), (2)');

-- user and password from the user mapping (basic auth)
CREATE SERVER ch_user FOREIGN DATA WRAPPER mesh_clickhouse
	OPTIONS (url :'ch_url', database 'mesh_conn');
CREATE USER MAPPING FOR CURRENT_USER SERVER ch_user OPTIONS (user 'mesh_user', password 'mesh_ch_pw');
SELECT * FROM mesh.execute('ch_user', 'SELECT user AS who FROM system.processes');
SELECT * FROM mesh.execute('ch_user', 'SELECT count() AS n FROM t');
CREATE FOREIGN TABLE t_user (id int) SERVER ch_user OPTIONS ("table" 't');
SELECT * FROM t_user ORDER BY id;
-- a wrong password: a clear error, the password never shown
ALTER USER MAPPING FOR CURRENT_USER SERVER ch_user OPTIONS (SET password 'wrong_pw_123');
SELECT * FROM t_user;
DO $$
BEGIN
	PERFORM * FROM mesh.execute('ch_user', 'SELECT 1');
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'SQLSTATE %: %', SQLSTATE, SQLERRM;
END $$;
SELECT server, ok, error NOT LIKE '%wrong_pw_123%' AS no_secret FROM mesh.health() WHERE server = 'ch_user';

-- ClickHouse's own message for a malformed query, an unknown table or column
SELECT * FROM mesh.execute('ch_conn', 'SELEC 1');
CREATE FOREIGN TABLE missing (id int) SERVER ch_conn OPTIONS (database 'mesh_conn');
SELECT * FROM missing;
CREATE FOREIGN TABLE wrong_col (id int, nope text) SERVER ch_conn OPTIONS (database 'mesh_conn', "table" 't');
SELECT * FROM wrong_col;
-- a value that does not fit the column's type
CREATE FOREIGN TABLE wrong_type (id boolean) SERVER ch_conn OPTIONS (database 'mesh_conn', "table" 't');
SELECT * FROM wrong_type;
-- a remote error class: a missing table is 42P01 (replication waits for a fix)
DO $$
BEGIN
	PERFORM * FROM missing;
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'SQLSTATE %', SQLSTATE;
END $$;

-- a server that answers garbage: "malformed reply", never a crash
CREATE SERVER ch_garbage FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'garbage_url');
CREATE FOREIGN TABLE g (id int, v text) SERVER ch_garbage;
SELECT * FROM g;
SELECT count(*) FROM g;
SELECT * FROM mesh.execute('ch_garbage', 'SELECT 1');
IMPORT FOREIGN SCHEMA x FROM SERVER ch_garbage INTO public;
INSERT INTO g VALUES (1, 'x');
SELECT server, ok, version FROM mesh.health() WHERE server = 'ch_garbage';
\set status500_url 'http://127.0.0.1:' :garbage_port '/status500'
CREATE SERVER ch_status500 FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'status500_url');
SELECT * FROM mesh.execute('ch_status500', 'SELECT 1');

-- a hanging HTTP request and a server that never answers: errors within timeout_ms
CREATE SERVER ch_slow FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'slow_url', timeout_ms '500');
CREATE FOREIGN TABLE slow_t (id int) SERVER ch_slow;
SELECT * FROM slow_t;
SELECT * FROM mesh.execute('ch_slow', 'SELECT 1');
CREATE SERVER ch_hang FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url :'hang_url', timeout_ms '500');
CREATE FOREIGN TABLE hang_t (id int) SERVER ch_hang;
SELECT * FROM hang_t;
SELECT server, ok, error FROM mesh.health(1000) WHERE server IN ('ch_hang', 'ch_slow') ORDER BY server;

-- a query cancel stops a running request; the next query works
SELECT * FROM mesh.execute('ch_conn', 'CREATE VIEW mesh_conn.slow_v AS SELECT sleep(3) AS x');
CREATE FOREIGN TABLE slow_v (x int) SERVER ch_conn OPTIONS (database 'mesh_conn');
CREATE FOREIGN TABLE t_conn (id int) SERVER ch_conn OPTIONS (database 'mesh_conn', "table" 't');
SET statement_timeout = '200ms';
SELECT * FROM slow_v;
RESET statement_timeout;
SELECT count(*) FROM t_conn;
SELECT * FROM mesh.execute('ch_conn', 'SELECT count() AS n FROM mesh_conn.t');

-- health of the real server: its version
SELECT server, kind, ok, version, error FROM mesh.health() WHERE server = 'ch_conn';

DROP SERVER ch_conn, ch_user, ch_garbage, ch_status500, ch_slow, ch_hang CASCADE;
