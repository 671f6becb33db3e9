/*
 * azblob.h: the Azure Blob Storage connector's shared declarations
 * (fdw/azblob), the Azure dialect of the object-store layer
 * (object_store.h).
 *
 * Requests go to <endpoint>/<container>/<blob> (the endpoint may carry a
 * path: Azurite's path-style http://127.0.0.1:PORT/<account>) and are
 * authorised by SharedKey (azblob_sign.c: HMAC-SHA256 with the account
 * key), by a SAS token appended to the query, or not at all (anonymous).
 * Only the user mapping holds the key or the token; no message, EXPLAIN
 * or log line shows a request's URL.
 */
#ifndef MESH_AZBLOB_H
#define MESH_AZBLOB_H

#include <time.h>

#include "http.h"

/* The REST API version every request names (x-ms-version). */
#define AZBLOB_API_VERSION "2021-08-06"

/* Where a server's requests go and how they are authorised. */
typedef struct AzblobTarget
{
	char	   *base_url;		/* the endpoint without a trailing '/' */
	const char *base_path;		/* its path part ("" or "/devstoreaccount1") */
	const char *account;		/* the storage account (NULL: not named) */
	const char *account_key;	/* base64, never printed; NULL: none */
	const char *sas_token;		/* a query string, never printed; NULL: none */
} AzblobTarget;

typedef struct AzblobConn
{
	MESH_HTTP_CONN_HEAD;
	AzblobTarget target;
} AzblobConn;

typedef struct AzblobParam
{
	const char *name;
	const char *value;
} AzblobParam;

/* One operation: the account (container NULL), a container (blob NULL) or a blob. */
typedef struct AzblobRequest
{
	const char *method;			/* "GET", "HEAD", "PUT" or "DELETE" */
	const char *container;
	const char *blob;
	AzblobParam *params;		/* query parameters (values not escaped) */
	int			nparams;
	const char *range;			/* an x-ms-range value ("bytes=0-9"), or NULL */
	const char *what;			/* for messages: "a listing" */
	const char *body;			/* PUT body (with its Content-MD5), or NULL */
	size_t		body_len;
	const char *content_type;	/* of the body */
	const char *blob_type;		/* x-ms-blob-type ("BlockBlob"), or NULL */
} AzblobRequest;

/* azblob.c */
extern bool azblob_target_from_config(MeshServerConfig *config, AzblobTarget *target);

/* azblob_sign.c */
extern bool azblob_decode_key(const char *key, unsigned char **out, int *len);
extern const char **azblob_sign(const AzblobTarget *target, const AzblobRequest *r,
								const char *path, const char *md5, time_t now);

/* azblob_request.c */
extern void azblob_http_request(const AzblobTarget *target, const AzblobRequest *r,
								MeshHttpRequest *req);
extern void azblob_send(AzblobConn *conn, const AzblobRequest *r, MeshHttpResponse *resp);
extern void azblob_raise(AzblobConn *conn, const AzblobRequest *r, MeshHttpResponse *resp)
			pg_attribute_noreturn();

/* azblob_upload.c */
extern void azblob_put(void *conn, const char *container, const char *blob, const char *data,
					   size_t len, const char *content_type);
extern char *azblob_upload_begin(void *conn, const char *container, const char *blob,
								 const char *content_type);
extern char *azblob_upload_part(void *conn, const char *container, const char *blob,
								const char *upload_id, int part, const char *data, size_t len);
extern void azblob_upload_complete(void *conn, const char *container, const char *blob,
								   const char *upload_id, List *tags);
extern void azblob_upload_abort(void *conn, const char *container, const char *blob,
								const char *upload_id);

/* azblob_store.c */
extern const struct MeshObjectStore azblob_object_store;

#endif							/* MESH_AZBLOB_H */
