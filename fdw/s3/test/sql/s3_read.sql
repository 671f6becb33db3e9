-- servers: s3
-- mesh_s3 against versitygw 1.8.0: the contents of objects as rows (CSV,
-- JSON lines, gzip, zstd, a glob of keys, Hive partitions pruned before
-- any GET), read by a non-superuser role.  Objects are put by the harness
-- (curl --aws-sigv4).  The tests are fdw/s3/test/s3_read.psql, shared with
-- s3_read_minio.
\getenv s3_port MESH_S3_PORT
\setenv MESH_S3_TARGET s3
-- (pg_regress feeds this file to psql's stdin, so \ir is relative to the
-- working directory, the repository's root)
\ir fdw/s3/test/s3_read.psql
