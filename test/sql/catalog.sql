-- servers: redis redis_auth
-- The data catalog: mesh.catalog, mesh.catalog_yaml() and
-- mesh.apply_catalog(): declaring routes from YAML, idempotence, the round
-- trip, removing and changing routes, and errors that name line and key.
\getenv redis_port MESH_REDIS_PORT
\getenv redis_auth_port MESH_REDIS_AUTH_PORT
CREATE SERVER cat_cache FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_port');
CREATE SERVER cat_cache2 FOREIGN DATA WRAPPER mesh_redis OPTIONS (host '127.0.0.1', port :'redis_auth_port');
CREATE USER MAPPING FOR CURRENT_USER SERVER cat_cache2 OPTIONS (password 'redis_secret_pw');
SELECT * FROM mesh.execute('cat_cache', 'FLUSHDB');
SELECT * FROM mesh.execute('cat_cache2', 'FLUSHDB');

CREATE TABLE cat_readings (id int PRIMARY KEY, sensor text, v float8);
INSERT INTO cat_readings SELECT g, 's' || g, g / 2.0 FROM generate_series(1, 20) g;
CREATE TABLE "Odd Name" (k text PRIMARY KEY, v text);

-- declare two routes
SELECT mesh.apply_catalog($$
cat_readings:
  primary: contrib_regression
  replicas: [cat_cache2]
  cache: cat_cache
  options:
    cat_cache: {key_prefix: "reading:"}
    cat_cache2: {key_prefix: "r2:"}
'"Odd Name"':
  cache: cat_cache
  options:
    cat_cache: {key_prefix: "odd: \"quoted\"\n"}
$$) AS changes;
SELECT * FROM mesh.catalog ORDER BY dataset;
SELECT target, role, options FROM mesh.routes ORDER BY source::text, target;
SELECT mesh.catalog_yaml();
-- the routes work
INSERT INTO "Odd Name" VALUES ('a', 'b');
SELECT mesh.wait_for_sync();
SELECT target, source_rows, target_rows, consistent FROM mesh.verify('cat_readings') ORDER BY target;
SELECT * FROM mesh.execute('cat_cache', 'HGETALL "odd: \"quoted\"\na"');

-- idempotent: the same document, and the catalog's own YAML, change nothing
SELECT string_agg(id::text, ',' ORDER BY id) AS ids_before FROM mesh.routes \gset
SELECT mesh.apply_catalog($$
cat_readings:
  replicas: [cat_cache2]
  cache: cat_cache
  options:
    cat_cache2: {key_prefix: "r2:"}
    cat_cache: {key_prefix: "reading:"}
$$) AS changes;
SELECT mesh.apply_catalog(mesh.catalog_yaml()) AS changes;
SELECT string_agg(id::text, ',' ORDER BY id) = :'ids_before' AS same_routes FROM mesh.routes;
SELECT id AS cache_route FROM mesh.routes WHERE target = 'cat_cache' AND source = 'cat_readings'::regclass \gset

-- a role changes in place; a removed target removes its route
SELECT mesh.apply_catalog($$
cat_readings:
  replicas: [cat_cache]
  options:
    cat_cache: {key_prefix: "reading:"}
$$) AS changes;
SELECT dataset, replicas, cache FROM mesh.catalog ORDER BY dataset;
SELECT id = :cache_route AS same_route, role FROM mesh.routes
WHERE target = 'cat_cache' AND source = 'cat_readings'::regclass;
-- changed options re-create the route (and backfill it again)
SELECT mesh.apply_catalog($$
cat_readings:
  replicas: [cat_cache]
  options:
    cat_cache: {key_prefix: "reading2:"}
$$) AS changes;
SELECT target, options FROM mesh.routes WHERE source = 'cat_readings'::regclass;
SELECT mesh.apply_catalog(mesh.catalog_yaml()) AS changes;

-- errors name the line and the key, and apply nothing
SELECT mesh.apply_catalog($$
cat_readings:
  replicas: [cat_cache
$$);
SELECT mesh.apply_catalog($$
cat_readings:
  replica: cat_cache
$$);
SELECT mesh.apply_catalog($$
cat_readings:
  cache: cat_cache
no_such_table:
  cache: cat_cache
$$);
SELECT mesh.apply_catalog($$
cat_readings:
  cache: no_such_server
$$);
SELECT mesh.apply_catalog($$
cat_readings:
  replicas: [cat_cache]
  options:
    cat_cache: {key_prefix: "reading:", batch: 10}
$$);
SELECT mesh.apply_catalog($$
cat_readings:
  primary: timescaledb
  cache: cat_cache
$$);
SELECT mesh.apply_catalog($$
cat_readings:
  cache: cat_cache
  options:
    cat_cache2: {key_prefix: "x"}
$$);
SELECT mesh.apply_catalog($$
cat_readings:
  cache: cat_cache
  replicas: [cat_cache]
$$);
SELECT mesh.apply_catalog('- just a list');
SELECT target, options FROM mesh.routes WHERE source = 'cat_readings'::regclass;
SELECT mesh.apply_catalog('') AS changes;

-- an empty dataset entry removes its routes
SELECT mesh.apply_catalog($$
cat_readings:
'"Odd Name"': {}
$$) AS changes;
SELECT count(*) FROM mesh.routes;
SELECT mesh.catalog_yaml();

DROP TABLE cat_readings, "Odd Name";
DROP SERVER cat_cache, cat_cache2 CASCADE;
