-- servers: (the hub only)
-- Issue 14, finding 9: the url of every HTTP wrapper (one shared check in
-- src/option.c), as an application role: credentials in the URL are
-- refused at CREATE and ALTER SERVER without echoing them (they belong in
-- the user mapping), and only http and https are accepted (libcurl is
-- also restricted to them, redirects included, in src/http.c).
CREATE ROLE boundaries_http_app LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER mesh_clickhouse, mesh_elasticsearch, mesh_prometheus,
	mesh_influxdb, mesh_neo4j, mesh_qdrant, mesh_chroma, mesh_victoriametrics TO boundaries_http_app;
SET SESSION AUTHORIZATION boundaries_http_app;
-- userinfo: refused, the password never shown
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'http://admin:s3cr3t-pw@127.0.0.1:8123');
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_elasticsearch OPTIONS (url 'https://elastic@es.internal:9200/');
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url 'http://:s3cr3t-pw@127.0.0.1:9090');
-- other schemes: refused, naming the option and what is allowed
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_influxdb OPTIONS (url 'file:///etc/passwd');
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_neo4j OPTIONS (url 'gopher://127.0.0.1:70/_stats');
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_qdrant OPTIONS (url 'dict://127.0.0.1:11211/stat');
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_chroma OPTIONS (url 'ftp://anonymous:s3cr3t-pw@127.0.0.1/');
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_victoriametrics OPTIONS (url '127.0.0.1:8428');
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'user:s3cr3t-pw@127.0.0.1:8123');
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'http:///path');
-- accepted: http and https in any case, an "@" after the host
CREATE SERVER bh FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'HTTP://127.0.0.1:8123');
CREATE SERVER bh2 FOREIGN DATA WRAPPER mesh_elasticsearch OPTIONS (url 'https://es.internal:9200/proxy/a@b?q=c@d');
-- ALTER SERVER gets the same check
ALTER SERVER bh OPTIONS (SET url 'http://admin:s3cr3t-pw@127.0.0.1:8123');
ALTER SERVER bh OPTIONS (SET url 'file:///etc/passwd');
-- credentials go in the user mapping, never shown
CREATE USER MAPPING FOR CURRENT_USER SERVER bh OPTIONS (user 'admin', password 's3cr3t-pw');
SELECT server, kind, options FROM mesh.backends() WHERE server IN ('bh', 'bh2') ORDER BY server;
RESET SESSION AUTHORIZATION;
-- a superuser is held to the same rule
CREATE SERVER bh3 FOREIGN DATA WRAPPER mesh_clickhouse OPTIONS (url 'http://admin:s3cr3t-pw@127.0.0.1:8123');
DROP SERVER bh, bh2 CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER mesh_clickhouse, mesh_elasticsearch, mesh_prometheus,
	mesh_influxdb, mesh_neo4j, mesh_qdrant, mesh_chroma, mesh_victoriametrics FROM boundaries_http_app;
DROP ROLE boundaries_http_app;
