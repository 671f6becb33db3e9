-- servers: redis redis_auth
-- Option validation at CREATE/ALTER time, and secrets kept out of sight.
\getenv redis_port MESH_REDIS_PORT
\getenv auth_port MESH_REDIS_AUTH_PORT

-- unknown options name themselves and hint the closest valid one
CREATE SERVER bad1 FOREIGN DATA WRAPPER mesh_redis OPTIONS (hots '127.0.0.1');
CREATE SERVER bad2 FOREIGN DATA WRAPPER mesh_redis OPTIONS (nonsense 'x');
-- values are checked: integers, ranges, enumerations, booleans
CREATE SERVER bad3 FOREIGN DATA WRAPPER mesh_redis OPTIONS (port 'abc');
CREATE SERVER bad4 FOREIGN DATA WRAPPER mesh_redis OPTIONS (port '70000');
CREATE SERVER bad5 FOREIGN DATA WRAPPER mesh_redis OPTIONS (timeout_ms '0');
CREATE SERVER bad6 FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '');
-- secrets are refused outside a user mapping, and never echoed
CREATE SERVER bad7 FOREIGN DATA WRAPPER mesh_redis OPTIONS (password 'hunter2');
-- an option in the wrong place
CREATE SERVER bad8 FOREIGN DATA WRAPPER mesh_redis OPTIONS (key_prefix 'x:');
CREATE FOREIGN DATA WRAPPER mesh_bad HANDLER mesh.fdw_handler VALIDATOR mesh.redis_validator OPTIONS (host 'x');

CREATE SERVER opt_cache FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port :'redis_port', db '0', timeout_ms '2000');
ALTER SERVER opt_cache OPTIONS (SET port 'eighty');
ALTER SERVER opt_cache OPTIONS (ADD dbb '1');
CREATE USER MAPPING FOR CURRENT_USER SERVER opt_cache OPTIONS (host 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER opt_cache OPTIONS (user 'meshuser', password 'opt_secret_value');
CREATE FOREIGN TABLE opt_t1 (key text, value text) SERVER opt_cache OPTIONS (type 'strings');
CREATE FOREIGN TABLE opt_t2 (key text, value text) SERVER opt_cache OPTIONS (type 'string', port '1');
CREATE FOREIGN TABLE opt_t3 (key text OPTIONS (key 'maybe'), value text) SERVER opt_cache;
CREATE FOREIGN TABLE opt_t4 (key text OPTIONS (fieldname 'x'), value text) SERVER opt_cache;
CREATE FOREIGN TABLE opt_ok (key text OPTIONS (key 'true'), value text)
	SERVER opt_cache OPTIONS (type 'string', key_prefix 'opt:');

-- misfit columns are reported when the table is used
CREATE FOREIGN TABLE opt_misfit (key text, valeu text) SERVER opt_cache OPTIONS (type 'string');
SELECT * FROM opt_misfit;
CREATE FOREIGN TABLE opt_novalue (key text) SERVER opt_cache OPTIONS (type 'zset');
SELECT * FROM opt_novalue;

-- the secret is in the catalog only; mesh.backends() shows server options
-- (the port differs from run to run)
SELECT server, kind, fdw, jsonb_set(options, '{port}', '"PORT"') AS options FROM mesh.backends() WHERE server = 'opt_cache';
SELECT count(*) AS secret_in_backends FROM mesh.backends()
	WHERE options::text LIKE '%opt_secret_value%';

-- postgres_fdw servers are mesh backends of kind postgres
CREATE SERVER opt_pg FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'x');
SELECT server, kind, fdw, options FROM mesh.backends() WHERE server = 'opt_pg';

-- a server of a foreign wrapper that is not mesh's is refused clearly
CREATE FOREIGN DATA WRAPPER not_mesh;
CREATE SERVER not_mesh_srv FOREIGN DATA WRAPPER not_mesh;
SELECT * FROM mesh.execute('not_mesh_srv', 'PING');
SELECT * FROM mesh.execute('opt_pg', 'SELECT 1');
SELECT * FROM mesh.execute('no_such_server', 'PING');

-- a secret is what its connector declares secret (MeshOption .secret), nothing else
SELECT mesh.option_is_secret('mesh_redis', 'password') AS redis_password,
	   mesh.option_is_secret('mesh_elasticsearch', 'api_key') AS es_api_key,
	   mesh.option_is_secret('mesh_kafka', 'ssl_key_password') AS kafka_key_password,
	   mesh.option_is_secret('mesh_redis', 'host') AS redis_host,
	   mesh.option_is_secret('mesh_redis', 'no_such_option') AS undeclared,
	   mesh.option_is_secret('not_mesh', 'password') AS other_wrapper;

DROP SERVER opt_cache CASCADE;
DROP SERVER opt_pg;
DROP SERVER not_mesh_srv;
DROP FOREIGN DATA WRAPPER not_mesh;
