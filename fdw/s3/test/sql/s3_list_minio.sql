-- servers: minio hang garbage
-- mesh_s3 against MinIO (the harness's pinned pseudo-version; it checks
-- SigV4: a wrong secret is a 403): the same tests as s3_list (versitygw),
-- fdw/s3/test/s3_list.psql, over plain HTTP only: HTTPS is tested against
-- versitygw alone (no s3_tls here).  Where MinIO answers differently (the
-- Server header, error codes and messages), this file's expected output
-- shows MinIO's answer.
\getenv s3_port MESH_MINIO_PORT
\set with_tls false
\setenv MESH_S3_TARGET minio
-- (pg_regress feeds this file to psql's stdin, so \ir is relative to the
-- working directory, the repository's root)
\ir fdw/s3/test/s3_list.psql
