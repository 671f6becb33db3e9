-- servers: s3
-- The lake sink against versitygw 1.8.0: a table's changes archived as
-- JSON-lines objects named by event ids plus manifest entries, as the
-- table's owner (not a superuser); the state rebuilt from the archive is
-- the table.  The tests are fdw/s3/test/s3_lake.psql, shared with
-- s3_lake_minio.
\getenv s3_port MESH_S3_PORT
\setenv MESH_S3_TARGET s3
\ir fdw/s3/test/s3_lake.psql
