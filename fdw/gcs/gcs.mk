# fdw/gcs: RS256 signatures of the OAuth2 JWT grant with OpenSSL (libssl-dev).
PG_CPPFLAGS += $(shell pkg-config --cflags libcrypto)
SHLIB_LINK += $(shell pkg-config --libs libcrypto)
