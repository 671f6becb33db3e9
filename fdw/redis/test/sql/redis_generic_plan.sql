-- servers: redis
-- Pushdown survives generic plans: every prepared statement runs 8 times
-- (PostgreSQL switches to a generic plan from the 6th execution), and the
-- parameter is still sent to Redis (EXPLAIN shows it).
\getenv redis_port MESH_REDIS_PORT
CREATE SERVER cache FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host '127.0.0.1', port :'redis_port');
SELECT * FROM mesh.execute('cache', 'FLUSHDB');
CREATE FOREIGN TABLE gp (key int, value text) SERVER cache OPTIONS (key_prefix 'gp:');
INSERT INTO gp SELECT g, 'v' || g FROM generate_series(1, 20) g;

PREPARE by_key(int) AS SELECT value FROM gp WHERE key = $1;
EXECUTE by_key(1);
EXECUTE by_key(2);
EXECUTE by_key(3);
EXECUTE by_key(4);
EXECUTE by_key(5);
EXECUTE by_key(6);
EXECUTE by_key(7);
EXECUTE by_key(8);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_key(9);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE by_key(9);

PREPARE by_keys(int[]) AS SELECT key, value FROM gp WHERE key = ANY($1) ORDER BY key;
EXECUTE by_keys('{1,2}');
EXECUTE by_keys('{3}');
EXECUTE by_keys('{4,5,6}');
EXECUTE by_keys('{}');
EXECUTE by_keys('{7,7}');
EXECUTE by_keys('{8,99}');
EXECUTE by_keys(NULL);
EXECUTE by_keys('{10,11}');
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_keys('{1}');

CREATE FOREIGN TABLE gp_text (key text, value text) SERVER cache OPTIONS (key_prefix 'gp:');
PREPARE by_prefix(text) AS SELECT count(*) FROM gp_text WHERE key LIKE $1;
EXECUTE by_prefix('1%');
EXECUTE by_prefix('2%');
EXECUTE by_prefix('1_');
EXECUTE by_prefix('%');
EXECUTE by_prefix('x%');
EXECUTE by_prefix('1');
EXECUTE by_prefix(NULL);
EXECUTE by_prefix('2_');
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE by_prefix('1%');

-- forced generic plans behave the same from the first execution
SET plan_cache_mode = force_generic_plan;
PREPARE forced(int) AS SELECT value FROM gp WHERE key = $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE forced(3);
EXECUTE forced(3);
EXECUTE forced(4);
RESET plan_cache_mode;

-- the same through PL/pgSQL, which caches plans with parameters
CREATE FUNCTION gp_lookup(k int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT value FROM gp WHERE key = k);
END $$;
SELECT g, gp_lookup(g) FROM generate_series(1, 10) g;

DROP FUNCTION gp_lookup(int);
DROP SERVER cache CASCADE;
