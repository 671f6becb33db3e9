/*
 * azblob_sign.c: the headers of an Azure Blob request, with a SharedKey
 * signature (OpenSSL's HMAC-SHA256 and base64) when the user mapping
 * holds the account key.
 *
 * The string to sign is the method, eleven standard headers (empty but
 * Content-Length, Content-MD5 and Content-Type of a body; the range goes
 * as x-ms-range), the x-ms-*
 * headers (lower case, sorted, "name:value\n") and the canonicalized
 * resource: "/<account><path>" with the path exactly as sent (escaped,
 * the endpoint's own path included), then "\n<name>:<value>" per query
 * parameter, names lower-cased and sorted, values not escaped.  Nothing
 * here ereports (the health check signs too); the key only enters the
 * HMAC.
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/stringinfo.h"

#include "azblob.h"

/* Parameters sort by lower-cased name (the request's names are lower case). */
static int
param_cmp(const void *a, const void *b)
{
	return strcmp(((const AzblobParam *) a)->name, ((const AzblobParam *) b)->name);
}

/*
 * The decoded account key into *out (palloc'd, *len bytes); false when it
 * is not base64.  Also the check of the option at CREATE USER MAPPING.
 */
bool
azblob_decode_key(const char *key, unsigned char **out, int *len)
{
	size_t		n = strlen(key);
	int			pad = 0;

	if (n == 0 || n % 4 != 0 || n > 1024)
		return false;
	while (pad < 2 && key[n - 1 - pad] == '=')
		pad++;
	*out = palloc(n / 4 * 3 + 1);
	*len = EVP_DecodeBlock(*out, (const unsigned char *) key, (int) n);
	if (*len < 0)
		return false;
	*len -= pad;
	return true;
}

/*
 * The header lines of a request (NULL-terminated, palloc'd): x-ms-date,
 * x-ms-version, x-ms-range (with a range) and, with an account key,
 * Authorization: SharedKey <account>:<signature>.  path is the URL's
 * escaped path, params the query parameters (unescaped; a SAS token is not
 * among them: it is not signed).  NULL when the key cannot be used.
 */
const char **
azblob_sign(const AzblobTarget *target, const AzblobRequest *r, const char *path,
			const char *md5, time_t now)
{
	const char **lines = palloc0(sizeof(char *) * 8);
	const AzblobParam *params = r->params;
	int			nparams = r->nparams;
	const char *range = r->range;
	int			nlines = 0;
	char		date[40];
	struct tm	tm;
	StringInfoData sts;
	AzblobParam *sorted;
	unsigned char *key;
	int			keylen;
	unsigned char sig[EVP_MAX_MD_SIZE];
	unsigned int siglen = 0;
	char		sig64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	bool		ok;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (r->blob_type)
		lines[nlines++] = psprintf("x-ms-blob-type: %s", r->blob_type);
	if (md5)
		lines[nlines++] = psprintf("Content-MD5: %s", md5);
	lines[nlines++] = psprintf("x-ms-date: %s", date);
	lines[nlines++] = "x-ms-version: " AZBLOB_API_VERSION;
	if (range)
		lines[nlines++] = psprintf("x-ms-range: %s", range);
	if (target->account_key == NULL)
		return lines;

	initStringInfo(&sts);
	appendStringInfo(&sts, "%s\n\n\n", r->method);
	if (r->body && r->body_len > 0)
		appendStringInfo(&sts, "%zu", r->body_len);
	appendStringInfo(&sts, "\n%s\n%s\n\n\n\n\n\n\n", md5 ? md5 : "",
					 r->body && r->content_type ? r->content_type : "");
	if (r->blob_type)
		appendStringInfo(&sts, "x-ms-blob-type:%s\n", r->blob_type);
	appendStringInfo(&sts, "x-ms-date:%s\n", date);
	if (range)
		appendStringInfo(&sts, "x-ms-range:%s\n", range);
	appendStringInfo(&sts, "x-ms-version:%s\n", AZBLOB_API_VERSION);
	appendStringInfo(&sts, "/%s%s", target->account ? target->account : "", path);
	sorted = palloc(sizeof(AzblobParam) * Max(nparams, 1));
	memcpy(sorted, params, sizeof(AzblobParam) * nparams);
	qsort(sorted, nparams, sizeof(AzblobParam), param_cmp);
	for (int i = 0; i < nparams; i++)
		appendStringInfo(&sts, "\n%s:%s", sorted[i].name, sorted[i].value);

	if (!azblob_decode_key(target->account_key, &key, &keylen))
		return NULL;
	ok = HMAC(EVP_sha256(), key, keylen, (const unsigned char *) sts.data, sts.len,
			  sig, &siglen) != NULL;
	explicit_bzero(key, keylen);
	if (!ok)
		return NULL;
	EVP_EncodeBlock((unsigned char *) sig64, sig, (int) siglen);
	lines[nlines++] = psprintf("Authorization: SharedKey %s:%s", target->account, sig64);
	return lines;
}
