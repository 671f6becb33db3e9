-- servers: redis
-- mesh.execute for Redis: redis-cli quoting in, jsonb rows out.
\getenv redis_port MESH_REDIS_PORT
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port :'redis_port');
SELECT * FROM mesh.execute('cache', 'FLUSHDB');
-- status, integers, nil, strings
SELECT * FROM mesh.execute('cache', 'SET greeting hello');
SELECT * FROM mesh.execute('cache', 'GET greeting');
SELECT * FROM mesh.execute('cache', 'GET missing');
SELECT * FROM mesh.execute('cache', 'INCRBY counter 41');
SELECT jsonb_typeof(e) FROM mesh.execute('cache', 'INCR counter') e;
-- quoting: double quotes with escapes, single quotes, empty arguments
SELECT * FROM mesh.execute('cache', 'SET "key with space" "line1\nline2\t\"q\" \x41\\"');
SELECT * FROM mesh.execute('cache', 'GET "key with space"');
SELECT * FROM mesh.execute('cache', $$SET 'single q' 'it\'s'$$);
SELECT * FROM mesh.execute('cache', $$GET 'single q'$$);
SELECT * FROM mesh.execute('cache', 'SET empty ""');
SELECT * FROM mesh.execute('cache', 'STRLEN empty');
SELECT * FROM mesh.execute('cache', 'SET uni "ünïcødé ✓"');
SELECT * FROM mesh.execute('cache', 'GET uni');
-- arrays: one row per element; nested arrays stay arrays
SELECT * FROM mesh.execute('cache', 'RPUSH l a b c');
SELECT * FROM mesh.execute('cache', 'LRANGE l 0 -1');
SELECT * FROM mesh.execute('cache', 'MGET greeting missing counter');
SELECT jsonb_typeof(e) FROM mesh.execute('cache', 'SCAN 0 MATCH l COUNT 100') e;
SELECT * FROM mesh.execute('cache', 'LRANGE nothing 0 -1');
-- field/value replies become one object
SELECT * FROM mesh.execute('cache', 'HSET h a 1 b "two"');
SELECT * FROM mesh.execute('cache', 'HGETALL h');
SELECT * FROM mesh.execute('cache', 'hgetall h');
SELECT * FROM mesh.execute('cache', 'HGETALL nothing');
-- errors: Redis' own message in the detail
SELECT * FROM mesh.execute('cache', 'INCR greeting');
SELECT * FROM mesh.execute('cache', 'LPUSH greeting x');
SELECT * FROM mesh.execute('cache', '   ');
SELECT * FROM mesh.execute('cache', $$GET 'unterminated$$);
SELECT * FROM mesh.execute('cache', 'GET "a"b');
-- a value that is not valid text is an error, not a corrupt jsonb
SELECT * FROM mesh.execute('cache', 'SET bin "\xff\xfe"');
SELECT * FROM mesh.execute('cache', 'GET bin');
-- USAGE on the server is required
CREATE ROLE mesh_nobody;
SET ROLE mesh_nobody;
SELECT * FROM mesh.execute('cache', 'PING');
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER cache TO mesh_nobody;
SET ROLE mesh_nobody;
SELECT * FROM mesh.execute('cache', 'PING');
RESET ROLE;
DROP SERVER cache CASCADE;
DROP ROLE mesh_nobody;
