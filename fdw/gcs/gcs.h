/*
 * gcs.h: the Google Cloud Storage connector's shared declarations
 * (fdw/gcs), the GCS dialect of the object-store layer (object_store.h).
 *
 * Requests go to the JSON API through the core's HTTP client.  Only the
 * user mapping holds credentials: a static OAuth2 access token, or a
 * service account's JSON key, exchanged for access tokens by the OAuth2
 * JWT-bearer grant (gcs_auth.c) and cached on the connection.  Without
 * either, requests are anonymous.  No message ever shows a credential.
 */
#ifndef MESH_GCS_H
#define MESH_GCS_H

#include <time.h>

#include "http.h"

#define GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define GCS_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
/* the connector only reads: the narrowest scope that lists and reads */
#define GCS_SCOPE "https://www.googleapis.com/auth/devstorage.read_write"

/* A service account's key (the JSON key file's members mesh uses). */
typedef struct GcsServiceAccount
{
	char	   *client_email;
	char	   *private_key;	/* PEM; never printed */
	char	   *token_uri;		/* the key's, or the server's token_uri option */
	char	   *project_id;		/* NULL when the key names none */
} GcsServiceAccount;

typedef struct GcsConn
{
	MESH_HTTP_CONN_HEAD;
	char	   *base;			/* the endpoint without a trailing '/' */
	char	   *access_token;	/* the mapping's static token, or NULL; never printed */
	GcsServiceAccount *account; /* or the service account, or NULL: anonymous */
	char	   *token;			/* the cached access token of the account */
	time_t		token_renew;	/* ask for a new one from this time on */
} GcsConn;

/* gcs.c */
extern char *gcs_base_url(MeshServerConfig *config);

/* gcs_auth.c */
extern GcsServiceAccount *gcs_parse_account(const char *json, const char *token_uri,
											char **why);
extern char *gcs_grant_body(const GcsServiceAccount *sa, time_t now, char **why);
extern bool gcs_parse_grant(const char *body, size_t len, char **token, int64 *expires_in);
extern char *gcs_token_error(const char *body, size_t len, const char *assertion);
extern const char *gcs_bearer(GcsConn *conn);

/* gcs_store.c */
extern char *gcs_error_text(const char *body, size_t len);
extern const struct MeshObjectStore gcs_object_store;

/* gcs_ping.c */
extern const MeshPingOps gcs_ping_ops;

#endif							/* MESH_GCS_H */
