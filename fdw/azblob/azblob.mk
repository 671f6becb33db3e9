# fdw/azblob: SharedKey signing with OpenSSL's HMAC-SHA256 and base64 (libssl-dev).
PG_CPPFLAGS += $(shell pkg-config --cflags libcrypto)
SHLIB_LINK += $(shell pkg-config --libs libcrypto)
