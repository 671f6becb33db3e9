-- servers: elasticsearch7
-- fdw/elasticsearch/test/sql/elasticsearch_sink.sql against Elasticsearch 7.10.2 (the harness's
-- elasticsearch7 server) instead of OpenSearch.  (Run from the repository
-- root, as make installcheck does: messages of the included file carry its
-- relative path.)
\getenv es_port MESH_ELASTICSEARCH_PORT
\i fdw/elasticsearch/test/sql/elasticsearch_sink.sql
