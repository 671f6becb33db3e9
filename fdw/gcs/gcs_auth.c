/*
 * gcs_auth.c: credentials of the GCS connector.
 *
 * A user mapping gives a static OAuth2 access token (access_token), or a
 * service account's JSON key (service_account_json).  A key is exchanged
 * for access tokens by the OAuth2 JWT-bearer grant (RFC 7523), as Google's
 * own client libraries do:
 *
 *   JWT     header {"alg":"RS256","typ":"JWT"}, claims {iss: client_email,
 *           scope: devstorage.read_write, aud: token_uri, iat: now,
 *           exp: now + 3600}, signed RS256 (OpenSSL EVP) with the key's
 *           private_key
 *   grant   POST token_uri, grant_type=urn:ietf:params:oauth:grant-type:
 *           jwt-bearer&assertion=<JWT>; the answer's access_token is cached
 *           on the connection until 60 s before its expires_in (half its
 *           life when that is shorter), then granted again
 *
 * The server option token_uri overrides the key's (tests point it at a
 * stand-in); aud is then that URI, so the assertion is worth nothing at any
 * other token endpoint.  No message shows the private key, the assertion or
 * a token: the token endpoint's refusal is shown as its error and
 * error_description, with the assertion cut out should it be echoed.
 */
#include "postgres.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "utils/memutils.h"

#include "gcs.h"
#include "json_value.h"

/* an RS256 signature is the key's size: up to 16384-bit keys */
#define GCS_MAX_SIGNATURE 2048

static const char b64url_chars[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Append data as base64url without padding (RFC 7515). */
static void
append_b64url(StringInfo buf, const unsigned char *data, size_t len)
{
	size_t		i;

	for (i = 0; i + 2 < len; i += 3)
	{
		uint32		v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];

		appendStringInfoChar(buf, b64url_chars[(v >> 18) & 63]);
		appendStringInfoChar(buf, b64url_chars[(v >> 12) & 63]);
		appendStringInfoChar(buf, b64url_chars[(v >> 6) & 63]);
		appendStringInfoChar(buf, b64url_chars[v & 63]);
	}
	if (len - i == 1)
	{
		uint32		v = data[i] << 16;

		appendStringInfoChar(buf, b64url_chars[(v >> 18) & 63]);
		appendStringInfoChar(buf, b64url_chars[(v >> 12) & 63]);
	}
	else if (len - i == 2)
	{
		uint32		v = (data[i] << 16) | (data[i + 1] << 8);

		appendStringInfoChar(buf, b64url_chars[(v >> 18) & 63]);
		appendStringInfoChar(buf, b64url_chars[(v >> 12) & 63]);
		appendStringInfoChar(buf, b64url_chars[(v >> 6) & 63]);
	}
}

/* OpenSSL's last error as text (names a failing routine, never key material). */
static char *
openssl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char		buf[256];

	ERR_clear_error();
	if (e == 0)
		return pstrdup(what);
	ERR_error_string_n(e, buf, sizeof(buf));
	return psprintf("%s (%s)", what, buf);
}

/* The RSA private key of a PEM text, or NULL with *why. */
static EVP_PKEY *
load_key(const char *pem, char **why)
{
	BIO		   *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY   *key;

	if (bio == NULL)
	{
		*why = openssl_error("out of memory");
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *) "");
	BIO_free(bio);
	if (key == NULL)
	{
		ERR_clear_error();		/* OpenSSL's words here are about decoders, not the key */
		*why = pstrdup("Its private_key is not a PEM private key.");
		return NULL;
	}
	if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA)
	{
		EVP_PKEY_free(key);
		*why = pstrdup("Its private_key is not an RSA key (RS256 needs one).");
		return NULL;
	}
	return key;
}

/* A string member of a key file, or NULL. */
static char *
member(json_t *doc, const char *name)
{
	json_t	   *v = json_object_get(doc, name);

	return v && json_is_string(v) && json_string_length(v) > 0 ?
		pnstrdup(json_string_value(v), json_string_length(v)) : NULL;
}

/*
 * A service account's JSON key; NULL with *why (which never quotes the
 * key) when it is not one.  token_uri (not NULL) replaces the key's.
 * Only pallocs: the health check uses it too.
 */
GcsServiceAccount *
gcs_parse_account(const char *json, const char *token_uri, char **why)
{
	json_error_t err;
	json_t	   *doc = json_loads(json, 0, &err);
	GcsServiceAccount *sa;
	char	   *type;
	EVP_PKEY   *key;

	/* jansson's message may quote the text: only its position is shown */
	if (doc == NULL || !json_is_object(doc))
	{
		*why = doc == NULL ?
			psprintf("It is not JSON (an error at line %d, column %d).", err.line, err.column) :
			pstrdup("It is not a JSON object.");
		json_decref(doc);
		return NULL;
	}
	type = member(doc, "type");
	if (type && strcmp(type, "service_account") != 0)
	{
		*why = psprintf("Its type is \"%s\", not \"service_account\".", pnstrdup(type, 40));
		json_decref(doc);
		return NULL;
	}
	sa = palloc0(sizeof(GcsServiceAccount));
	sa->client_email = member(doc, "client_email");
	sa->private_key = member(doc, "private_key");
	sa->project_id = member(doc, "project_id");
	sa->token_uri = token_uri ? pstrdup(token_uri) : member(doc, "token_uri");
	if (sa->token_uri == NULL)
		sa->token_uri = pstrdup(GCS_DEFAULT_TOKEN_URI);
	json_decref(doc);
	if (sa->client_email == NULL || sa->private_key == NULL)
	{
		*why = psprintf("It has no %s member (a string).",
						sa->client_email == NULL ? "client_email" : "private_key");
		return NULL;
	}
	if (strncmp(sa->token_uri, "https://", 8) != 0 && strncmp(sa->token_uri, "http://", 7) != 0)
	{
		*why = pstrdup("Its token_uri is not an http:// or https:// URL.");
		return NULL;
	}
	key = load_key(sa->private_key, why);
	if (key == NULL)
		return NULL;
	EVP_PKEY_free(key);
	return sa;
}

/*
 * The form body of a JWT-bearer grant for sa at time now:
 * grant_type=...&assertion=<header>.<claims>.<RS256 signature>.
 * NULL with *why when the key cannot sign.
 */
char *
gcs_grant_body(const GcsServiceAccount *sa, time_t now, char **why)
{
	StringInfoData claims;
	StringInfoData jwt;
	StringInfoData body;
	EVP_PKEY   *key;
	EVP_MD_CTX *md;
	unsigned char *sig;
	size_t		siglen = 0;
	bool		ok;
	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";

	initStringInfo(&claims);
	appendStringInfoString(&claims, "{\"iss\":");
	mesh_json_append_string(&claims, sa->client_email, strlen(sa->client_email));
	appendStringInfoString(&claims, ",\"scope\":");
	mesh_json_append_string(&claims, GCS_SCOPE, strlen(GCS_SCOPE));
	appendStringInfoString(&claims, ",\"aud\":");
	mesh_json_append_string(&claims, sa->token_uri, strlen(sa->token_uri));
	appendStringInfo(&claims, ",\"iat\":%lld,\"exp\":%lld}",
					 (long long) now, (long long) now + 3600);
	initStringInfo(&jwt);
	append_b64url(&jwt, (const unsigned char *) header, strlen(header));
	appendStringInfoChar(&jwt, '.');
	append_b64url(&jwt, (const unsigned char *) claims.data, claims.len);

	/* allocated first: nothing below ereports while OpenSSL holds memory */
	sig = palloc(GCS_MAX_SIGNATURE);
	key = load_key(sa->private_key, why);
	if (key == NULL)
		return NULL;
	md = EVP_MD_CTX_new();
	ok = md != NULL && EVP_PKEY_get_size(key) <= GCS_MAX_SIGNATURE &&
		EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		EVP_DigestSign(md, NULL, &siglen, (const unsigned char *) jwt.data, jwt.len) == 1 &&
		siglen <= GCS_MAX_SIGNATURE &&
		EVP_DigestSign(md, sig, &siglen, (const unsigned char *) jwt.data, jwt.len) == 1;
	if (!ok)
		*why = openssl_error("The key could not sign the token request");
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	if (!ok)
		return NULL;
	appendStringInfoChar(&jwt, '.');
	append_b64url(&jwt, sig, siglen);

	initStringInfo(&body);
	appendStringInfo(&body, "grant_type=%s&assertion=%s",
					 "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer", jwt.data);
	return body.data;
}

/* The access token and its lifetime (seconds; 0 if not given) of a grant's answer. */
bool
gcs_parse_grant(const char *body, size_t len, char **token, int64 *expires_in)
{
	json_t	   *doc = json_loadb(body, len, 0, NULL);
	json_t	   *t = doc ? json_object_get(doc, "access_token") : NULL;
	json_t	   *e = doc ? json_object_get(doc, "expires_in") : NULL;

	if (t == NULL || !json_is_string(t) || json_string_length(t) == 0)
	{
		json_decref(doc);
		return false;
	}
	*token = pnstrdup(json_string_value(t), json_string_length(t));
	*expires_in = e && json_is_integer(e) ? (int64) json_integer_value(e) : 0;
	json_decref(doc);
	return true;
}

/* text with every occurrence of secret replaced by "<assertion>". */
static char *
without(const char *text, const char *secret)
{
	StringInfoData buf;
	const char *p = text;
	const char *hit;
	size_t		slen = secret ? strlen(secret) : 0;

	if (slen < 8)
		return pstrdup(text);
	initStringInfo(&buf);
	while ((hit = strstr(p, secret)) != NULL)
	{
		appendBinaryStringInfo(&buf, p, hit - p);
		appendStringInfoString(&buf, "<assertion>");
		p = hit + slen;
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/*
 * The token endpoint's refusal as text: OAuth2's "error: error_description"
 * (RFC 6749 5.2), else the start of the answer; the assertion (and its
 * signature alone) cut out should the endpoint echo them.
 */
char *
gcs_token_error(const char *body, size_t len, const char *assertion)
{
	json_t	   *doc = json_loadb(body, len, 0, NULL);
	json_t	   *e = doc ? json_object_get(doc, "error") : NULL;
	json_t	   *d = doc ? json_object_get(doc, "error_description") : NULL;
	char	   *text;
	const char *sig = assertion ? strrchr(assertion, '.') : NULL;

	if (e && json_is_string(e) && d && json_is_string(d))
		text = psprintf("%s: %s", json_string_value(e), json_string_value(d));
	else if (e && json_is_string(e))
		text = pstrdup(json_string_value(e));
	else if (e && json_is_object(e))	/* Google's API error shape */
		text = gcs_error_text(body, len);
	else
		text = len > 0 ? pnstrdup(body, Min(len, 200)) : pstrdup("The answer has no body.");
	json_decref(doc);
	text = without(text, assertion);
	return sig ? without(text, sig + 1) : text;
}

/*
 * Ask the token endpoint for an access token of the connection's service
 * account and cache it (in the connection's memory context).
 */
static void
grant(GcsConn *conn)
{
	GcsServiceAccount *sa = conn->account;
	MemoryContext conn_cxt = GetMemoryChunkContext(conn);
	MeshHttpRequest req = {0};
	MeshHttpResponse resp;
	char	   *why = NULL;
	char	   *body = gcs_grant_body(sa, time(NULL), &why);
	char	   *assertion;
	char	   *token;
	int64		expires_in;
	int64		margin;

	if (body == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("could not sign a token request for GCS server \"%s\"", conn->servername),
				 errdetail("%s", why),
				 errhint("Check service_account_json in the user mapping for server \"%s\".",
						 conn->servername)));
	assertion = strstr(body, "&assertion=") + strlen("&assertion=");
	req.method = "POST";
	req.url = sa->token_uri;
	req.body = body;
	req.body_len = strlen(body);
	req.content_type = "application/x-www-form-urlencoded";
	req.what = "a token request";
	req.accept_error = true;
	mesh_http_request(conn->http, &req, &resp);
	if (resp.status < 200 || resp.status >= 300)
	{
		char	   *detail = gcs_token_error(resp.body.data, resp.body.len, assertion);

		explicit_bzero(body, strlen(body));
		ereport(ERROR,
				(errcode(resp.status >= 500 || resp.status == 429 ?
						 ERRCODE_CONNECTION_FAILURE : ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the token endpoint of GCS server \"%s\" refused the service account's grant with HTTP %ld",
						conn->servername, resp.status),
				 errdetail("%s", detail),
				 errhint("Check service_account_json in the user mapping for server \"%s\".",
						 conn->servername)));
	}
	explicit_bzero(body, strlen(body));
	if (!gcs_parse_grant(resp.body.data, resp.body.len, &token, &expires_in))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_REPLY_HANDLE),
				 errmsg("malformed token from the token endpoint of GCS server \"%s\"",
						conn->servername),
				 errdetail("The answer to the grant has no access_token.")));
	if (expires_in <= 0)
		expires_in = 3600;		/* RFC 6749 leaves it optional; Google's tokens live 1 hour */
	margin = Min(60, expires_in / 2);
	if (conn->token)
	{
		explicit_bzero(conn->token, strlen(conn->token));
		pfree(conn->token);
	}
	conn->token = MemoryContextStrdup(conn_cxt, token);
	conn->token_renew = time(NULL) + expires_in - margin;
	explicit_bzero(token, strlen(token));
}

/*
 * The bearer token of the connection's requests, or NULL (anonymous): the
 * static token, else the service account's cached token, granted anew when
 * it is about to expire.
 */
const char *
gcs_bearer(GcsConn *conn)
{
	if (conn->access_token)
		return conn->access_token;
	if (conn->account == NULL)
		return NULL;
	if (conn->token == NULL || time(NULL) >= conn->token_renew)
		grant(conn);
	return conn->token;
}
