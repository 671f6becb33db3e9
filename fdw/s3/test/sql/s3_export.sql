-- servers: s3
-- mesh.export against versitygw 1.8.0 (it checks SigV4 and the body's
-- SHA-256 and MD5): a query's result as a CSV or JSON-lines object, one
-- PUT or a multipart upload, as a non-superuser role.  The tests are
-- fdw/s3/test/s3_export.psql, shared with s3_export_minio.
\getenv s3_port MESH_S3_PORT
\setenv MESH_S3_TARGET s3
\ir fdw/s3/test/s3_export.psql
