-- servers: tls
-- The shared HTTP client over TLS (test/tls_server.py, signed by the
-- harness's test CA): certificates are verified by default, a CA file makes
-- them trusted, tls_verify 'false' skips the check, and a server that asks
-- for a client certificate gets the one in the user mapping.  Both paths are
-- covered: the non-blocking health check and a request on a cached
-- connection (the test server answers that with JSON that is not a PromQL
-- result, so getting "malformed reply" proves the TLS handshake succeeded).
\getenv tls_port MESH_TLS_PORT
\getenv tls_client_port MESH_TLS_CLIENT_PORT
\getenv test_dir MESH_TEST_DIR
\set url 'https://127.0.0.1:' :tls_port
\set client_url 'https://127.0.0.1:' :tls_client_port
\set ca :test_dir '/tls/ca.crt'
\set cert :test_dir '/tls/client.crt'
\set key :test_dir '/tls/client.key'

CREATE SERVER tls_default FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url :'url');
CREATE SERVER tls_ca FOREIGN DATA WRAPPER mesh_prometheus OPTIONS (url :'url', tls_ca_file :'ca');
CREATE SERVER tls_noverify FOREIGN DATA WRAPPER mesh_prometheus
	OPTIONS (url :'url', tls_verify 'false');
CREATE SERVER tls_client_nocert FOREIGN DATA WRAPPER mesh_prometheus
	OPTIONS (url :'client_url', tls_ca_file :'ca');
CREATE SERVER tls_client_cert FOREIGN DATA WRAPPER mesh_prometheus
	OPTIONS (url :'client_url', tls_ca_file :'ca');
CREATE USER MAPPING FOR CURRENT_USER SERVER tls_client_cert
	OPTIONS (tls_cert_file :'cert', tls_key_file :'key');

SELECT server, ok, version,
	   CASE WHEN ok THEN NULL
			WHEN error ~* 'certificate problem' THEN 'server certificate not trusted'
			ELSE 'TLS handshake refused' END AS error
FROM mesh.health(3000) WHERE server LIKE 'tls_%' ORDER BY server;

-- the same through a request on a cached connection
CREATE FUNCTION tls_request(srv name) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	PERFORM mesh.promql(srv, 'up');
	RETURN 'answered';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN CASE WHEN SQLERRM ~ '^malformed reply' THEN 'TLS ok, malformed reply'
				WHEN detail ~* 'certificate problem' THEN 'server certificate not trusted'
				WHEN SQLERRM ~ '^could not reach' THEN 'TLS handshake refused'
				ELSE SQLERRM || ': ' || detail END;
END $$;
SELECT srvname, tls_request(srvname) FROM pg_foreign_server
WHERE srvname LIKE 'tls_%' ORDER BY srvname;

-- a bad value is refused when written
ALTER SERVER tls_ca OPTIONS (ADD tls_verify 'maybe');

DROP FUNCTION tls_request(name);
DROP SERVER tls_default, tls_ca, tls_noverify, tls_client_nocert, tls_client_cert CASCADE;
