# fdw/s3: SigV4 signing with OpenSSL's SHA-256 and HMAC (libssl-dev).
PG_CPPFLAGS += $(shell pkg-config --cflags libcrypto)
SHLIB_LINK += $(shell pkg-config --libs libcrypto)
# the object-store layer's contents (src/object_stream.c): gzip and zstd
SHLIB_LINK += -lz -lzstd
