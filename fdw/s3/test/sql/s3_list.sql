-- servers: s3 s3_tls hang garbage
-- mesh_s3 against versitygw 1.8.0 (it checks SigV4: a wrong secret is a
-- 403): a bucket listing as a foreign table, read by a non-superuser role,
-- over HTTP and HTTPS (s3_tls: the same gateway with the harness's test
-- certificate).  Objects are put by the harness (curl --aws-sigv4):
-- hostile key names, metadata, 25 objects under page/ for paging.
-- The tests are fdw/s3/test/s3_list.psql, shared with s3_list_minio.
\getenv s3_port MESH_S3_PORT
\getenv s3_tls_port MESH_S3_TLS_PORT
\set with_tls true
\setenv MESH_S3_TARGET s3
-- (pg_regress feeds this file to psql's stdin, so \ir is relative to the
-- working directory, the repository's root)
\ir fdw/s3/test/s3_list.psql
