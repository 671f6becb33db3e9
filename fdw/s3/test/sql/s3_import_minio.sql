-- servers: minio
-- mesh_s3 against MinIO (the harness's pinned pseudo-version): the same
-- tests as s3_import (versitygw), fdw/s3/test/s3_import.psql.
\getenv s3_port MESH_MINIO_PORT
\setenv MESH_S3_TARGET minio
-- (pg_regress feeds this file to psql's stdin, so \ir is relative to the
-- working directory, the repository's root)
\ir fdw/s3/test/s3_import.psql
