-- servers: minio
-- The lake sink against MinIO (pinned pseudo-version): the tests of
-- fdw/s3/test/s3_lake.psql, shared with s3_lake.
\getenv s3_port MESH_MINIO_PORT
\setenv MESH_S3_TARGET minio
\ir fdw/s3/test/s3_lake.psql
