-- servers: (the hub only)
-- Issue 14, finding 1: mesh_duckdb as an application role.  A role that is
-- neither superuser nor holder of pg_read_server_files and
-- pg_write_server_files gets DuckDB with external access off and its
-- configuration locked (no file functions, COPY to files, ATTACH,
-- INSTALL/LOAD), and a path only inside mesh.duckdb_directory (empty:
-- only ':memory:'), checked at CREATE/ALTER SERVER and at every connect,
-- ".." and symbolic links resolved; a cached connection is never shared
-- with a role of other rights; superusers and holders keep everything.
\getenv dir MESH_TEST_DIR
\set ddir :dir '/pg_hub/boundaries_duckdb'
\set allowed :ddir '/allowed'
\set cmd 'rm -rf ' :ddir ' && mkdir -p ' :allowed ' && ln -s /etc ' :allowed '/etc_link && ln -s ' :ddir ' ' :allowed '/up' '; cat > /dev/null'
COPY (SELECT 1) TO PROGRAM :'cmd';
-- errors whose text names a directory of this machine, with it as <dir>
CREATE FUNCTION public.boundaries_try(sql text, dir text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	m text;
	d text;
	h text;
	s text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT,
		s = RETURNED_SQLSTATE;
	RETURN replace(format(E'%s: %s\nDETAIL: %s\nHINT: %s', s, m, d, h), dir, '<dir>');
END $$;
CREATE ROLE boundaries_app LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER mesh_duckdb TO boundaries_app;
SHOW mesh.duckdb_directory;

SET SESSION AUTHORIZATION boundaries_app;
-- ':memory:' works, and so does ordinary SQL in it
CREATE SERVER bd_mem FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path ':memory:');
SELECT * FROM mesh.execute('bd_mem', 'CREATE TABLE t AS SELECT range AS id FROM range(3)');
SELECT * FROM mesh.execute('bd_mem', 'SELECT count(*) AS n FROM t');
-- no file of the hub is readable: relative paths are the data directory's
SELECT * FROM mesh.execute('bd_mem', $$SELECT content FROM read_text('pg_hba.conf')$$);
SELECT * FROM mesh.execute('bd_mem', $$SELECT content FROM read_blob('global/1260')$$);
SELECT * FROM mesh.execute('bd_mem', $$SELECT * FROM read_csv('/etc/passwd', sep = ':')$$);
SELECT * FROM mesh.execute('bd_mem', $$SELECT * FROM glob('*')$$);
-- nor writable, attachable, or loadable
SELECT * FROM mesh.execute('bd_mem', $$COPY (SELECT 'x' AS a) TO 'postgresql.auto.conf'$$);
SELECT * FROM mesh.execute('bd_mem', $$ATTACH '/tmp/boundaries_other.duckdb' AS other$$);
SELECT regexp_replace(boundaries_try($$SELECT * FROM mesh.execute('bd_mem', 'INSTALL httpfs')$$, ''),
	'directory "[^"]*"', 'directory "<extension directory>"');
SELECT * FROM mesh.execute('bd_mem', 'LOAD httpfs');
-- and the configuration is locked
SELECT * FROM mesh.execute('bd_mem', 'SET enable_external_access = true');
SELECT * FROM mesh.execute('bd_mem', 'SET lock_configuration = false');
SELECT * FROM mesh.execute('bd_mem', 'RESET lock_configuration');
-- mesh.duckdb_directory is empty: no file at all, at CREATE and ALTER
CREATE SERVER bd_file FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path '/etc/mesh_evil.duckdb');
CREATE SERVER bd_file FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path 'evil.duckdb');
ALTER SERVER bd_mem OPTIONS (SET path '/tmp/mesh_evil.duckdb');
-- the setting is the superuser's
SET mesh.duckdb_directory = '/';
RESET SESSION AUTHORIZATION;

SET mesh.duckdb_directory = :'allowed';
SET SESSION AUTHORIZATION boundaries_app;
\set inside :allowed '/app.duckdb'
SELECT boundaries_try(format('CREATE SERVER bd_file FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path %L)', :'inside'), :'ddir');
SELECT * FROM mesh.execute('bd_file', 'CREATE TABLE kept (id INTEGER, v VARCHAR)');
SELECT * FROM mesh.execute('bd_file', $$INSERT INTO kept VALUES (1, 'one')$$);
SELECT * FROM mesh.execute('bd_file', 'SELECT * FROM kept');
-- still no other file from inside a file database
SELECT * FROM mesh.execute('bd_file', $$SELECT content FROM read_text('/etc/passwd')$$);
-- outside once ".." and symbolic links are resolved
\set dotdot :allowed '/../evil.duckdb'
\set etclink :allowed '/etc_link/evil.duckdb'
\set uplink :allowed '/up/evil.duckdb'
SELECT boundaries_try(format('CREATE SERVER bd_bad FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path %L)', p), :'ddir')
FROM unnest(ARRAY[:'dotdot', :'etclink', :'uplink', :'allowed']) p;
SELECT boundaries_try(format('ALTER SERVER bd_file OPTIONS (SET path %L)', :'dotdot'), :'ddir');
RESET SESSION AUTHORIZATION;

-- checked again at connect, as the role the connection acts for: a server
-- an administrator made outside the directory is the administrator's only
\set admin_file :ddir '/admin.duckdb'
CREATE SERVER bd_admin FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path :'admin_file');
GRANT USAGE ON FOREIGN SERVER bd_admin TO boundaries_app;
SELECT * FROM mesh.execute('bd_admin', 'SELECT 1 AS one');
SET SESSION AUTHORIZATION boundaries_app;
SELECT boundaries_try($$SELECT * FROM mesh.execute('bd_admin', 'SELECT 1 AS one')$$, :'ddir');
RESET SESSION AUTHORIZATION;

-- the superuser keeps everything; the same backend then serves the role
-- a connection of its own (never the superuser's cached one)
CREATE SERVER bd_shared FOREIGN DATA WRAPPER mesh_duckdb OPTIONS (path ':memory:');
GRANT USAGE ON FOREIGN SERVER bd_shared TO boundaries_app;
SELECT * FROM mesh.execute('bd_shared', $$SELECT count(*) > 0 AS read FROM read_text('pg_hba.conf')$$);
SET SESSION AUTHORIZATION boundaries_app;
SELECT * FROM mesh.execute('bd_shared', $$SELECT count(*) > 0 AS read FROM read_text('pg_hba.conf')$$);
RESET SESSION AUTHORIZATION;

-- holders of pg_read_server_files and pg_write_server_files keep
-- everything too (a grant or revoke applies at once)
GRANT pg_read_server_files, pg_write_server_files TO boundaries_app;
SET SESSION AUTHORIZATION boundaries_app;
SELECT * FROM mesh.execute('bd_mem', $$SELECT count(*) > 0 AS read FROM read_text('pg_hba.conf')$$);
SELECT * FROM mesh.execute('bd_admin', 'SELECT 1 AS one');
RESET SESSION AUTHORIZATION;
REVOKE pg_write_server_files FROM boundaries_app;
SET SESSION AUTHORIZATION boundaries_app;
SELECT * FROM mesh.execute('bd_mem', $$SELECT count(*) > 0 AS read FROM read_text('pg_hba.conf')$$);
RESET SESSION AUTHORIZATION;

RESET mesh.duckdb_directory;
DROP SERVER bd_mem, bd_file, bd_admin, bd_shared CASCADE;
REVOKE pg_read_server_files FROM boundaries_app;
REVOKE USAGE ON FOREIGN DATA WRAPPER mesh_duckdb FROM boundaries_app;
DROP ROLE boundaries_app;
DROP FUNCTION public.boundaries_try(text, text);
