/*
 * object_write.c: writing one object through a store's dialect
 * (object_store.h), in bounded memory.
 *
 * Bytes gather in a buffer; an object that stays under part_size is one
 * put at finish.  Once the buffer reaches part_size an upload starts and
 * each full buffer is sent as a part, so at most part_size bytes (plus
 * the last write) are held.  finish sends the last part and completes the
 * upload; until then no object exists under the key.  abort (for an
 * error path) drops an upload under way and never ereports.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "object_store.h"

MeshObjectWriter *
mesh_object_writer_begin(const MeshObjectStore *store, void *conn, const char *bucket,
						 const char *key, const char *content_type, size_t part_size)
{
	MeshObjectWriter *w = palloc0(sizeof(MeshObjectWriter));

	if (store->put == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("writing objects is not supported for %s servers yet", store->label)));
	w->store = store;
	w->conn = conn;
	w->bucket = pstrdup(bucket);
	w->key = pstrdup(key);
	w->content_type = content_type ? pstrdup(content_type) : NULL;
	w->part_size = Max(part_size, store->min_part_size);
	initStringInfo(&w->buffer);
	return w;
}

/* Send the buffer as the next part (starting the upload first). */
static void
send_part(MeshObjectWriter *w)
{
	int			part = list_length(w->tags) + 1;
	char	   *tag;

	if (w->store->upload_begin == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("object \"%s\" is too large for one request to %s server \"%s\"",
						w->key, w->store->label, ((MeshHttpConn *) w->conn)->servername)));
	if (w->store->max_parts > 0 && part > w->store->max_parts)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("object \"%s\" needs more than %d parts of %zu bytes",
						w->key, w->store->max_parts, w->part_size),
				 errhint("Raise part_size.")));
	if (w->upload_id == NULL)
	{
		w->requests += w->store->upload_begin_is_local ? 0 : 1;
		w->upload_id = w->store->upload_begin(w->conn, w->bucket, w->key, w->content_type);
	}
	w->requests++;
	tag = w->store->upload_part(w->conn, w->bucket, w->key, w->upload_id, part,
								w->buffer.data, w->buffer.len);
	w->tags = lappend(w->tags, tag);
	resetStringInfo(&w->buffer);
}

void
mesh_object_write(MeshObjectWriter *w, const char *data, size_t len)
{
	appendBinaryStringInfo(&w->buffer, data, len);
	w->bytes += len;
	if ((size_t) w->buffer.len >= w->part_size)
		send_part(w);
}

void
mesh_object_writer_finish(MeshObjectWriter *w)
{
	if (w->upload_id == NULL)
	{
		w->requests++;
		w->store->put(w->conn, w->bucket, w->key, w->buffer.data, w->buffer.len, w->content_type);
		return;
	}
	if (w->buffer.len > 0)
		send_part(w);
	w->requests++;
	w->store->upload_complete(w->conn, w->bucket, w->key, w->upload_id, w->tags);
	w->upload_id = NULL;
}

void
mesh_object_writer_abort(MeshObjectWriter *w)
{
	if (w == NULL || w->upload_id == NULL)
		return;
	w->store->upload_abort(w->conn, w->bucket, w->key, w->upload_id);
	w->upload_id = NULL;
}

/*
 * Run fill(w, arg) to write the object's bytes, then finish it; if fill or
 * the finish fails, the upload under way is aborted before the error goes
 * on, so the key never names a partial object.
 */
void
mesh_object_write_guarded(MeshObjectWriter *w, void (*fill) (MeshObjectWriter *w, void *arg),
						  void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		fill(w, arg);
		mesh_object_writer_finish(w);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		mesh_object_writer_abort(w);
		ReThrowError(edata);
	}
	PG_END_TRY();
}

/* The MD5 of data in base64, as Content-MD5 carries it (palloc'd); NULL on failure. */
char *
mesh_object_md5_base64(const char *data, size_t len)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char	   *out = palloc(4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1);

	if (!EVP_Digest(data, len, digest, &dlen, EVP_md5(), NULL) ||
		EVP_EncodeBlock((unsigned char *) out, digest, (int) dlen) <= 0)
		return NULL;
	return out;
}
