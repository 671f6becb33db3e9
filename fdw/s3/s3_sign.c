/*
 * s3_sign.c: AWS Signature Version 4 for S3 requests, with OpenSSL's
 * SHA-256 and HMAC, and the body checksums S3 verifies.
 *
 * The canonical request is built from exactly the strings the request is
 * sent with (the escaped path and the sorted, escaped query), so what is
 * signed is what goes out.  The signed x-amz-content-sha256 is the body's
 * SHA-256 (of the empty string without one): S3 refuses a body that does
 * not match it.  Nothing here ereports (the health check signs too); the
 * secret only enters the HMAC.
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "lib/stringinfo.h"

#include "s3.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Encoded parameters sort by name, then by value (bytewise). */
static int
param_cmp(const void *a, const void *b)
{
	const S3Param *x = a;
	const S3Param *y = b;
	int			c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/*
 * The canonical query string of params: names and values encoded, sorted
 * by name then value (bytewise), "name=value" joined by '&' ("" for none).  Sent as the URL's query as is.
 */
char *
s3_canonical_query(const S3Param *params, int n)
{
	S3Param    *encoded = palloc(sizeof(S3Param) * Max(n, 1));
	StringInfoData buf;

	for (int i = 0; i < n; i++)
	{
		encoded[i].name = mesh_uri_encode(params[i].name, false);
		encoded[i].value = mesh_uri_encode(params[i].value ? params[i].value : "", false);
	}
	qsort(encoded, n, sizeof(S3Param), param_cmp);
	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s=%s", i ? "&" : "", encoded[i].name, encoded[i].value);
	return buf.data;
}

static void
hex(const unsigned char *d, int n, char *out)
{
	for (int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	out[2 * n] = '\0';
}

/* The SHA-256 of data as lower-case hex (palloc'd); NULL if it cannot be computed. */
char *
s3_sha256_hex(const char *data, size_t len)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char	   *out = palloc(2 * SHA256_DIGEST_LENGTH + 1);

	if (SHA256((const unsigned char *) data, len, digest) == NULL)
		return NULL;
	hex(digest, SHA256_DIGEST_LENGTH, out);
	return out;
}

/* HMAC-SHA256 of msg under key into out (32 bytes); false on failure. */
static bool
hmac(const unsigned char *key, int keylen, const char *msg, unsigned char *out)
{
	unsigned int outlen = 0;

	return HMAC(EVP_sha256(), key, keylen, (const unsigned char *) msg, strlen(msg),
				out, &outlen) != NULL && outlen == 32;
}

/*
 * The header lines that sign a body-less request to host (host[:port], sent
 * as the Host header) for the escaped path uri and canonical query at time
 * now: Host, x-amz-date, x-amz-content-sha256, x-amz-security-token (with
 * a session token) and Authorization; NULL-terminated, palloc'd.  Without
 * an access key only Host and x-amz-content-sha256 (an anonymous request).
 * Returns NULL if the HMAC cannot be computed.
 */
const char **
s3_sign(const S3Credentials *cred, const char *region, const char *method,
		const char *host, const char *uri, const char *query,
		const char *payload_sha256, time_t now)
{
	const char **lines = palloc0(sizeof(char *) * 6);
	int			nlines = 0;
	char		amzdate[17];
	char		date[9];
	struct tm	tm;
	StringInfoData creq;
	StringInfoData sts;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char		creq_hash[2 * SHA256_DIGEST_LENGTH + 1];
	unsigned char k1[32],
				k2[32],
				k3[32],
				k4[32],
				sig[32];
	char		sighex[65];
	char	   *secret_key;
	const char *signed_headers;
	bool		ok;

	if (payload_sha256 == NULL)
		payload_sha256 = EMPTY_SHA256;
	lines[nlines++] = psprintf("Host: %s", host);
	lines[nlines++] = psprintf("x-amz-content-sha256: %s", payload_sha256);
	if (cred->access_key_id == NULL)
		return lines;

	gmtime_r(&now, &tm);
	strftime(amzdate, sizeof(amzdate), "%Y%m%dT%H%M%SZ", &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	signed_headers = cred->session_token ?
		"host;x-amz-content-sha256;x-amz-date;x-amz-security-token" :
		"host;x-amz-content-sha256;x-amz-date";

	initStringInfo(&creq);
	appendStringInfo(&creq, "%s\n%s\n%s\n", method, uri, query);
	appendStringInfo(&creq, "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n",
					 host, payload_sha256, amzdate);
	if (cred->session_token)
		appendStringInfo(&creq, "x-amz-security-token:%s\n", cred->session_token);
	appendStringInfo(&creq, "\n%s\n%s", signed_headers, payload_sha256);
	SHA256((const unsigned char *) creq.data, creq.len, digest);
	hex(digest, SHA256_DIGEST_LENGTH, creq_hash);

	initStringInfo(&sts);
	appendStringInfo(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s",
					 amzdate, date, region, creq_hash);

	secret_key = psprintf("AWS4%s", cred->secret_access_key ? cred->secret_access_key : "");
	ok = hmac((unsigned char *) secret_key, strlen(secret_key), date, k1) &&
		hmac(k1, 32, region, k2) &&
		hmac(k2, 32, "s3", k3) &&
		hmac(k3, 32, "aws4_request", k4) &&
		hmac(k4, 32, sts.data, sig);
	explicit_bzero(secret_key, strlen(secret_key));
	explicit_bzero(k1, sizeof(k1));
	explicit_bzero(k4, sizeof(k4));
	if (!ok)
		return NULL;
	hex(sig, 32, sighex);

	lines[nlines++] = psprintf("x-amz-date: %s", amzdate);
	if (cred->session_token)
		lines[nlines++] = psprintf("x-amz-security-token: %s", cred->session_token);
	lines[nlines++] = psprintf("Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/s3/aws4_request, "
							   "SignedHeaders=%s, Signature=%s",
							   cred->access_key_id, date, region, signed_headers, sighex);
	return lines;
}
