-- servers: s3
-- Parquet on versitygw 1.8.0, as roles that are not superusers: Parquet
-- objects read by contents tables (typed, by column name, Hive partitions
-- pruned before any GET, malformed objects as errors naming them),
-- mesh.export of a typed query as Parquet read back the same, and the
-- lake sink writing Parquet with verify rebuilding the state.  DuckDB
-- decodes and encodes (object_parquet.c).  The tests are
-- fdw/s3/test/s3_parquet.psql, shared with s3_parquet_minio.
\getenv s3_port MESH_S3_PORT
\setenv MESH_S3_TARGET s3
-- (pg_regress feeds this file to psql's stdin, so \ir is relative to the
-- working directory, the repository's root)
\ir fdw/s3/test/s3_parquet.psql
