-- servers: s3
-- mesh_s3 against versitygw 1.8.0: IMPORT FOREIGN SCHEMA of a prefix or a
-- glob (a contents table, its columns typed from a sample) or of the
-- bucket's listing, and key IN (...) as a HEAD per value, by a
-- non-superuser role.  The tests are fdw/s3/test/s3_import.psql, shared
-- with s3_import_minio.
\getenv s3_port MESH_S3_PORT
\setenv MESH_S3_TARGET s3
-- (pg_regress feeds this file to psql's stdin, so \ir is relative to the
-- working directory, the repository's root)
\ir fdw/s3/test/s3_import.psql
