/*
 * s3.h: the S3 connector's shared declarations (fdw/s3), the S3 dialect
 * of the object-store layer (object_store.h).
 *
 * Requests are signed with AWS Signature Version 4 (s3_sign.c) and sent
 * through the core's HTTP client; path-style (endpoint/bucket/key) or
 * virtual-hosted-style (bucket.host/key) addressing.  Only the user
 * mapping holds credentials; no request text shown anywhere contains them.
 */
#ifndef MESH_S3_H
#define MESH_S3_H

#include <time.h>

#include "http.h"

/* Where a server's requests go (from its options; no secrets). */
typedef struct S3Endpoint
{
	char	   *scheme;			/* "http" or "https" */
	char	   *host;			/* host[:port] as the endpoint names it */
	char	   *base_path;		/* the endpoint's path without a trailing '/' */
	char	   *region;
	bool		virtual_hosted; /* addressing 'virtual' */
} S3Endpoint;

/* Who signs: NULL access_key_id sends anonymous (unsigned) requests. */
typedef struct S3Credentials
{
	const char *access_key_id;
	const char *secret_access_key;	/* never printed */
	const char *session_token;	/* never printed; NULL: none */
} S3Credentials;

typedef struct S3Conn
{
	MESH_HTTP_CONN_HEAD;
	S3Endpoint	endpoint;
	S3Credentials credentials;
} S3Conn;

typedef struct S3Param
{
	const char *name;
	const char *value;
} S3Param;

/* One S3 operation: the service (bucket NULL), a bucket (key NULL) or an object. */
typedef struct S3Request
{
	const char *method;			/* "GET", "HEAD", "PUT", "POST", "DELETE" */
	const char *bucket;
	const char *key;
	S3Param    *params;			/* query parameters, any order */
	int			nparams;
	const char *what;			/* for messages: "a listing" */
	const char *range;			/* a Range header's value, or NULL (not signed) */
	const char *body;			/* PUT/POST body (its SHA-256 is signed), or NULL */
	size_t		body_len;
	const char *content_type;	/* of the body */
} S3Request;

/* s3.c */
extern bool s3_endpoint_from_config(MeshServerConfig *config, S3Endpoint *ep);
extern void s3_credentials_from_config(MeshServerConfig *config, S3Credentials *cred);

/* s3_sign.c */
extern char *s3_canonical_query(const S3Param *params, int n);
extern const char **s3_sign(const S3Credentials *cred, const char *region, const char *method,
							const char *host, const char *uri, const char *query,
							const char *payload_sha256, time_t now);
extern char *s3_sha256_hex(const char *data, size_t len);

/* s3_request.c */
extern void s3_http_request(const S3Endpoint *ep, const S3Credentials *cred,
							const S3Request *r, MeshHttpRequest *req);
extern void s3_send(S3Conn *conn, const S3Request *r, MeshHttpResponse *resp);
extern void s3_raise(S3Conn *conn, const S3Request *r, MeshHttpResponse *resp)
			pg_attribute_noreturn();

/* s3_upload.c */
extern void s3_put(void *conn, const char *bucket, const char *key, const char *data,
				   size_t len, const char *content_type);
extern char *s3_upload_begin(void *conn, const char *bucket, const char *key,
							 const char *content_type);
extern char *s3_upload_part(void *conn, const char *bucket, const char *key,
							const char *upload_id, int part, const char *data, size_t len);
extern void s3_upload_complete(void *conn, const char *bucket, const char *key,
							   const char *upload_id, List *tags);
extern void s3_upload_abort(void *conn, const char *bucket, const char *key,
							const char *upload_id);

/* s3_store.c */
extern const struct MeshObjectStore s3_object_store;

#endif							/* MESH_S3_H */
