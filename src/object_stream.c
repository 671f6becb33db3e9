/*
 * object_stream.c: an object's records, in bounded memory.
 *
 * The object is read with ranged GETs of read_chunk bytes (one chunk in
 * memory at a time), decoded (gzip: zlib's streaming inflate, concatenated
 * members too; zstd: its streaming decoder) OBJ_DECODE_PIECE bytes at a
 * time into a buffer that holds the record being assembled and at most one
 * piece more.  So a scan holds about read_chunk + the longest record (at
 * most OBJ_RECORD_MAX) + OBJ_DECODE_PIECE bytes, whatever the object's size.
 *
 * A record is a line (the '\n' and a '\r' before it dropped), or for CSV a
 * record whose quoted fields may hold newlines; a UTF-8 byte order mark
 * before the first is dropped.  An object deleted since it was listed has
 * no records.  Errors name the object
 * and the line of the record being read.
 */
#include "postgres.h"

#include <zlib.h>
#include <zstd.h>

#include "utils/memutils.h"

#include "object_read.h"

#define OBJ_DECODE_PIECE (256 * 1024)

static voidpf
zlib_alloc(voidpf cxt, uInt items, uInt size)
{
	return MemoryContextAlloc((MemoryContext) cxt, (Size) items * size);
}

static void
zlib_free(voidpf cxt, voidpf p)
{
	pfree(p);
}

static void
zstd_release(void *dctx)
{
	ZSTD_freeDCtx(dctx);
}

/* A reader for a scan; decoder state lives (and dies) with scan_cxt. */
void
obj_stream_init(ObjStream *s, MeshScan *scan, const MeshObjectStore *store,
				const char *bucket, int read_chunk)
{
	memset(s, 0, sizeof(ObjStream));
	s->scan = scan;
	s->store = store;
	s->bucket = bucket;
	s->read_chunk = read_chunk;
	s->chunk_cxt = AllocSetContextCreate(scan->scan_cxt, "mesh object chunk",
										 ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&s->buf);
}

static void pg_attribute_noreturn()
stream_error(ObjStream *s, const char *what, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("%s in object \"%s\" at line " INT64_FORMAT, what, s->key, s->line),
			 why ? errdetail("%s", why) : 0));
}

/* Start reading key (size bytes, -1: not known); its decoder is reset. */
void
obj_stream_open(ObjStream *s, const char *key, int64 size, const ObjCsvOptions *csv,
				ObjCodec codec)
{
	s->key = key;
	s->size = size;
	s->csv = csv;
	s->codec = codec;
	s->offset = 0;
	s->raw_eof = false;
	s->codec_ended = false;
	s->chunk.body.len = 0;
	s->chunk_pos = 0;
	resetStringInfo(&s->buf);
	s->pos = s->scan_pos = 0;
	s->in_quote = false;
	s->line = 1;
	s->record_lines = 0;
}

/* The decoder for s->codec, made once per scan and reset per object. */
static void
decoder_start(ObjStream *s)
{
	if (s->codec == OBJ_CODEC_GZIP)
	{
		z_stream   *z = s->zlib;

		if (z == NULL)
		{
			z = MemoryContextAllocZero(s->scan->scan_cxt, sizeof(z_stream));
			z->zalloc = zlib_alloc;
			z->zfree = zlib_free;
			z->opaque = s->scan->scan_cxt;
			if (inflateInit2(z, 15 + 32) != Z_OK)	/* gzip or zlib header */
				elog(ERROR, "could not start a gzip decoder");
			s->zlib = z;
		}
		else
			inflateReset(z);
	}
	else if (s->codec == OBJ_CODEC_ZSTD)
	{
		if (s->zstd == NULL)
		{
			MemoryContextCallback *cb;

			s->zstd = ZSTD_createDCtx();
			if (s->zstd == NULL)
				elog(ERROR, "could not start a zstd decoder");
			cb = MemoryContextAlloc(s->scan->scan_cxt, sizeof(MemoryContextCallback));
			cb->func = zstd_release;
			cb->arg = s->zstd;
			MemoryContextRegisterResetCallback(s->scan->scan_cxt, cb);
		}
		else
			ZSTD_DCtx_reset(s->zstd, ZSTD_reset_session_only);
	}
}

/* The next chunk of raw bytes into s->chunk; false at the object's end. */
static bool
fetch_chunk(ObjStream *s)
{
	MemoryContext old;
	bool		found;
	size_t		len;

	if (s->raw_eof || (s->size >= 0 && s->offset >= s->size))
		return false;
	MemoryContextReset(s->chunk_cxt);
	old = MemoryContextSwitchTo(s->chunk_cxt);
	s->scan->requests++;
	s->gets++;
	found = s->store->get(s->scan->conn, s->bucket, s->key, s->offset, s->read_chunk, &s->chunk);
	MemoryContextSwitchTo(old);
	if (!found && s->offset == 0)
	{
		s->raw_eof = true;		/* deleted since it was listed: no rows */
		return false;
	}
	if (!found)
		stream_error(s, "object vanished while read", NULL);
	if (s->chunk.status == 200 && s->offset > 0)
		stream_error(s, "range not honoured", "The server sent the whole object for a ranged GET.");
	len = s->chunk.body.len;
	s->bytes += len;
	s->scan->bytes_read += len;
	if (s->offset == 0 && s->codec == OBJ_CODEC_NONE)
	{
		const char *enc = mesh_http_header(&s->chunk, "Content-Encoding");

		if (enc && pg_strcasecmp(enc, "gzip") == 0)
			s->codec = OBJ_CODEC_GZIP;
	}
	if (s->offset == 0)
		decoder_start(s);
	s->offset += len;
	s->chunk_pos = 0;
	if (s->chunk.status == 200 || len < (size_t) s->read_chunk)
		s->raw_eof = true;
	return len > 0;
}

/* Decode some of the chunk into s->buf; false when no byte came out. */
static bool
decode_piece(ObjStream *s, const char *in, size_t avail, size_t *consumed)
{
	enlargeStringInfo(&s->buf, OBJ_DECODE_PIECE);
	if (s->codec == OBJ_CODEC_NONE)
	{
		*consumed = Min(avail, OBJ_DECODE_PIECE);
		appendBinaryStringInfo(&s->buf, in, *consumed);
		return *consumed > 0;
	}
	if (s->codec == OBJ_CODEC_GZIP)
	{
		z_stream   *z = s->zlib;
		int			rc;

		if (s->codec_ended)
		{
			inflateReset(z);	/* another gzip member follows */
			s->codec_ended = false;
		}
		z->next_in = (Bytef *) in;
		z->avail_in = avail;
		z->next_out = (Bytef *) s->buf.data + s->buf.len;
		z->avail_out = OBJ_DECODE_PIECE;
		rc = inflate(z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			stream_error(s, "corrupt gzip data", z->msg ? z->msg : "inflate failed");
		s->codec_ended = rc == Z_STREAM_END;
		*consumed = avail - z->avail_in;
		s->buf.len += OBJ_DECODE_PIECE - z->avail_out;
	}
	else
	{
		ZSTD_inBuffer zin = {in, avail, 0};
		ZSTD_outBuffer zout = {s->buf.data + s->buf.len, OBJ_DECODE_PIECE, 0};
		size_t		rc = ZSTD_decompressStream(s->zstd, &zout, &zin);

		if (ZSTD_isError(rc))
			stream_error(s, "corrupt zstd data", ZSTD_getErrorName(rc));
		s->codec_ended = rc == 0;
		*consumed = zin.pos;
		s->buf.len += zout.pos;
	}
	s->buf.data[s->buf.len] = '\0';
	return true;
}

/* Append decoded bytes to s->buf; false at the end of the object. */
static bool
decode_more(ObjStream *s)
{
	size_t		before = s->buf.len;

	for (;;)
	{
		size_t		avail = s->chunk.body.len - s->chunk_pos;
		size_t		consumed = 0;

		if (avail == 0)
		{
			if (fetch_chunk(s))
				continue;
			if (s->codec != OBJ_CODEC_NONE && s->offset > 0 && !s->codec_ended)
				stream_error(s, s->codec == OBJ_CODEC_GZIP ? "truncated gzip data" :
							 "truncated zstd data", "The compressed stream ends before its end marker.");
			return false;
		}
		decode_piece(s, s->chunk.body.data + s->chunk_pos, avail, &consumed);
		s->chunk_pos += consumed;
		if (s->buf.len > before)
			return true;
		if (consumed == 0 && !s->codec_ended)
			stream_error(s, "corrupt compressed data", "The decoder makes no progress.");
	}
}

/*
 * Where the record that starts at s->pos ends ('\n' outside quotes), from
 * s->scan_pos on; -1: not in the buffer yet.
 */
static ssize_t
record_end(ObjStream *s)
{
	const char *data = s->buf.data;
	size_t		i = s->scan_pos;
	size_t		end = s->buf.len;

	if (s->csv == NULL)
	{
		const char *nl = memchr(data + i, '\n', end - i);

		s->scan_pos = end;
		return nl ? nl - data : -1;
	}
	for (; i < end; i++)
	{
		char		c = data[i];

		if (s->in_quote && c == s->csv->escape && s->csv->escape != s->csv->quote)
		{
			if (i + 1 == end)
				break;			/* what it escapes is not read yet */
			if (data[i + 1] == s->csv->quote || data[i + 1] == s->csv->escape)
				i++;
		}
		else if (c == s->csv->quote)
			s->in_quote = !s->in_quote;
		else if (c == '\n')
		{
			if (!s->in_quote)
				return i;
			s->record_lines++;
		}
	}
	s->scan_pos = i;
	return -1;
}

/*
 * The next record of the object: *record (len bytes, valid until the next
 * call) and the line it starts on; false at the end of the object.
 */
bool
obj_stream_record(ObjStream *s, char **record, size_t *len, int64 *line)
{
	for (;;)
	{
		ssize_t		end = record_end(s);
		bool		last = false;

		if (end < 0 && s->buf.len - s->pos > OBJ_RECORD_MAX)
			stream_error(s, "line too long", psprintf("A record is at most %d bytes.", OBJ_RECORD_MAX));
		if (end < 0)
		{
			/* keep only the record being assembled, then decode more */
			if (s->pos > 0)
			{
				memmove(s->buf.data, s->buf.data + s->pos, s->buf.len - s->pos);
				s->buf.len -= s->pos;
				s->buf.data[s->buf.len] = '\0';
				s->scan_pos -= s->pos;
				s->pos = 0;
			}
			if (decode_more(s))
				continue;
			if (s->pos == s->buf.len)
				return false;
			if (s->csv && s->in_quote)
				stream_error(s, "malformed CSV", "A quoted field is not closed before the end of the object.");
			end = s->buf.len;	/* the last record has no newline */
			last = true;
		}
		*record = s->buf.data + s->pos;
		*len = end - s->pos;
		if (*len > 0 && (*record)[*len - 1] == '\r')
			(*len)--;
		if (s->line == 1 && *len >= 3 && memcmp(*record, "\xEF\xBB\xBF", 3) == 0)
		{
			*record += 3;		/* a UTF-8 byte order mark */
			*len -= 3;
		}
		*line = s->line;
		s->line += 1 + s->record_lines;
		s->record_lines = 0;
		s->pos = s->scan_pos = last ? end : end + 1;
		return true;
	}
}
