# fdw/s3: SigV4 signing with OpenSSL's SHA-256 and HMAC (libssl-dev).
PG_CPPFLAGS += $(shell pkg-config --cflags libcrypto)
SHLIB_LINK += $(shell pkg-config --libs libcrypto)
