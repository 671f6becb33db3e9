-- servers: minio
-- Parquet on MinIO (the harness's pinned pseudo-version): the tests of
-- fdw/s3/test/s3_parquet.psql, shared with s3_parquet (versitygw).
\getenv s3_port MESH_MINIO_PORT
\setenv MESH_S3_TARGET minio
-- (pg_regress feeds this file to psql's stdin, so \ir is relative to the
-- working directory, the repository's root)
\ir fdw/s3/test/s3_parquet.psql
