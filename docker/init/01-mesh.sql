-- docker/init/01-mesh.sql
--
-- Run once by the postgres image's entrypoint (psql, ON_ERROR_STOP), in the
-- database "mesh", the first time the hub starts on an empty data volume.
-- It creates the extension and one foreign server per backend of
-- docker/compose.yaml, named after its compose service, each with a user
-- mapping for the initial superuser that holds the backend's credentials.
--
-- Credentials are read from the hub container's environment, which
-- compose.yaml fills from the same variables the backends use; the defaults
-- below match compose.yaml's. \getenv needs psql 15 or later.

\set ON_ERROR_STOP on

\set redis_password 'change-me'
\getenv redis_password REDIS_PASSWORD
\set timescaledb_password 'change-me'
\getenv timescaledb_password TIMESCALEDB_PASSWORD
\set remote_postgres_password 'change-me'
\getenv remote_postgres_password REMOTE_POSTGRES_PASSWORD
\set influxdb_password 'change-me'
\getenv influxdb_password INFLUXDB_PASSWORD
\set neo4j_password 'change-me'
\getenv neo4j_password NEO4J_PASSWORD
\set clickhouse_password 'change-me'
\getenv clickhouse_password CLICKHOUSE_PASSWORD
\set qdrant_api_key 'change-me'
\getenv qdrant_api_key QDRANT_API_KEY
\set mongodb_password 'change-me'
\getenv mongodb_password MONGODB_PASSWORD

CREATE EXTENSION IF NOT EXISTS mesh;
CREATE EXTENSION IF NOT EXISTS postgres_fdw;

-- Redis, through mesh_redis.
CREATE SERVER IF NOT EXISTS redis FOREIGN DATA WRAPPER mesh_redis
	OPTIONS (host 'redis', port '6379');
CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER redis
	OPTIONS (password :'redis_password');

-- TimescaleDB and the plain remote PostgreSQL, through contrib's postgres_fdw.
CREATE SERVER IF NOT EXISTS timescaledb FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host 'timescaledb', port '5432', dbname 'mesh');
CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER timescaledb
	OPTIONS (user 'postgres', password :'timescaledb_password');

CREATE SERVER IF NOT EXISTS postgres FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host 'postgres', port '5432', dbname 'mesh');
CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER postgres
	OPTIONS (user 'postgres', password :'remote_postgres_password');

-- Every other backend kind. Their foreign data wrappers (mesh_influxdb,
-- mesh_clickhouse, ...) arrive in later versions of mesh than mesh_redis, so
-- each server is created only if its wrapper exists, and a missing one is a
-- NOTICE rather than an error. Once the wrapper exists, a rejected option is
-- an error, as it should be. psql does not substitute variables inside the
-- DO body, so the secrets reach it as session settings, reset at the end.
SET mesh_init.influxdb_password = :'influxdb_password';
SET mesh_init.neo4j_password = :'neo4j_password';
SET mesh_init.clickhouse_password = :'clickhouse_password';
SET mesh_init.qdrant_api_key = :'qdrant_api_key';
SET mesh_init.mongodb_password = :'mongodb_password';

DO $$
DECLARE
	b record;
	server_opts text;
	mapping_opts text;
BEGIN
	FOR b IN
		SELECT *
		FROM (VALUES
			('influxdb', 'mesh_influxdb',
			 jsonb_build_object('url', 'http://influxdb:8086', 'database', 'mesh'),
			 jsonb_build_object('user', 'mesh',
								'password', current_setting('mesh_init.influxdb_password'))),
			('clickhouse', 'mesh_clickhouse',
			 jsonb_build_object('url', 'http://clickhouse:8123'),
			 jsonb_build_object('user', 'mesh',
								'password', current_setting('mesh_init.clickhouse_password'))),
			('prometheus', 'mesh_prometheus',
			 jsonb_build_object('url', 'http://prometheus:9090'),
			 NULL),
			('victoriametrics', 'mesh_victoriametrics',
			 jsonb_build_object('url', 'http://victoriametrics:8428'),
			 NULL),
			('mongodb', 'mesh_mongodb',
			 jsonb_build_object('uri', 'mongodb://mongodb:27017/?authSource=admin',
								'database', 'mesh'),
			 jsonb_build_object('user', 'mesh',
								'password', current_setting('mesh_init.mongodb_password'))),
			('elasticsearch', 'mesh_elasticsearch',
			 jsonb_build_object('url', 'http://elasticsearch:9200'),
			 NULL),
			('neo4j', 'mesh_neo4j',
			 jsonb_build_object('url', 'http://neo4j:7474'),
			 jsonb_build_object('user', 'neo4j',
								'password', current_setting('mesh_init.neo4j_password'))),
			('qdrant', 'mesh_qdrant',
			 jsonb_build_object('url', 'http://qdrant:6333'),
			 jsonb_build_object('api_key', current_setting('mesh_init.qdrant_api_key'))),
			('kafka', 'mesh_kafka',
			 jsonb_build_object('brokers', 'kafka:9092'),
			 NULL)
		) AS t(server, fdw, server_options, mapping_options)
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_foreign_data_wrapper
					   WHERE fdwname = b.fdw) THEN
			RAISE NOTICE 'foreign data wrapper "%" does not exist in this version of mesh, server "%" not created',
				b.fdw, b.server;
			CONTINUE;
		END IF;

		SELECT string_agg(format('%I %L', key, value), ', ')
		INTO server_opts
		FROM jsonb_each_text(b.server_options);
		EXECUTE format('CREATE SERVER IF NOT EXISTS %I FOREIGN DATA WRAPPER %I OPTIONS (%s)',
					   b.server, b.fdw, server_opts);

		IF b.mapping_options IS NOT NULL THEN
			SELECT string_agg(format('%I %L', key, value), ', ')
			INTO mapping_opts
			FROM jsonb_each_text(b.mapping_options);
			EXECUTE format('CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER %I OPTIONS (%s)',
						   b.server, mapping_opts);
		END IF;
	END LOOP;
END
$$;

RESET mesh_init.influxdb_password;
RESET mesh_init.neo4j_password;
RESET mesh_init.clickhouse_password;
RESET mesh_init.qdrant_api_key;
RESET mesh_init.mongodb_password;
