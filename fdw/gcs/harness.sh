# mesh harness recipe of mesh_gcs (sourced by test/harness.sh, not run).
#
#   gcs       fake-gcs-server v1.56.1 (GCS's JSON API; it ignores
#             credentials) on 127.0.0.1:$MESH_GCS_PORT, plain HTTP,
#             filesystem backend in $MESH_TEST_DIR/gcs/data.
#   gcs_auth  fdw/gcs/test/gcs_auth_standin.py on 127.0.0.1:$MESH_GCS_TOKEN_PORT
#             (needs gcs): a CONTRACT stand-in for Google's OAuth2 token
#             endpoint (POST /token checks the JWT-bearer grant, RS256
#             included, with `openssl dgst -verify`) and an authenticating
#             proxy in front of gcs (a GET needs a bearer token it issued,
#             or the static token $GCS_STATIC_TOKEN).  Its start makes a
#             test service account in $MESH_TEST_DIR/gcs_auth: sa.json (the
#             key file's JSON, token_uri this endpoint), and sa_wrong.json
#             (the same account with another RSA key, which it refuses).
#
# fake-gcs-server comes from the Go module proxy (`go env GOPROXY` as
# configured): `go install github.com/fsouza/fake-gcs-server@v1.56.1`
# (about 6 minutes the first time), built once per machine into
# $MESH_CACHE_DIR/fake-gcs-server-<version>/ by install_gcs (called by
# `harness.sh install`).  Go from PATH or /usr/local/go/bin (go_bin).
#
# Commands for test setup (fdw/gcs/test/gcs_client.py), sent to the gcs
# server:
#   harness.sh gcs-mkbucket BUCKET
#   harness.sh gcs-put BUCKET NAME [BODY [CONTENT_TYPE [NAME=VALUE...]]]
#     (a multipart upload: NAME=VALUE pairs become the object's metadata)
# and to the gcs_auth stand-in:
#   harness.sh gcs-grants [NAME...]  one line of its counters: grants, refused,
#                                    proxied, unauthorized, scope (all without)
#   harness.sh gcs-grants-reset      zero its counters, forget its tokens
#   harness.sh gcs-token-ttl SECONDS the expires_in of tokens issued next
#
# port: MESH_GCS_PORT 470
# port: MESH_GCS_TOKEN_PORT 471

FAKE_GCS_VERSION=v1.56.1
FAKE_GCS_BIN=$MESH_CACHE_DIR/fake-gcs-server-$FAKE_GCS_VERSION/fake-gcs-server
GCS_CLIENT_EMAIL=mesh-test@mesh-test.iam.gserviceaccount.com
GCS_STATIC_TOKEN=mesh_gcs_static_token

# OpenSSL's EVP signs the JWT of the service account grant (fdw/gcs/gcs_auth.c)
harness_build_packages libssl-dev
harness_server gcs install=install_gcs
harness_server gcs_auth deps=gcs packages=openssl
harness_command gcs-mkbucket gcs_mkbucket "BUCKET: create a bucket on the gcs server"
harness_command gcs-put gcs_put "BUCKET NAME [BODY [CONTENT_TYPE [NAME=VALUE...]]]: put an object on the gcs server"
harness_command gcs-grants gcs_grants "[NAME...]: print the gcs_auth stand-in's counters (grants, refused, proxied, unauthorized, scope)"
harness_command gcs-grants-reset gcs_grants_reset "zero the gcs_auth stand-in's counters"
harness_command gcs-token-ttl gcs_token_ttl "SECONDS: the lifetime of the tokens the gcs_auth stand-in issues next"

install_gcs() {
	go_install fake-gcs-server github.com/fsouza/fake-gcs-server github.com/fsouza/fake-gcs-server \
		"$FAKE_GCS_VERSION" "$FAKE_GCS_BIN"
}

# run_gcs: start fake-gcs-server on the data in $MESH_TEST_DIR/gcs/data (kept).
run_gcs() {
	local dir="$MESH_TEST_DIR/gcs"
	[ -x "$FAKE_GCS_BIN" ] || die "gcs: $FAKE_GCS_BIN missing: run '$HARNESS install gcs'"
	require_port_free gcs "$MESH_GCS_PORT"
	mkdir -p "$dir/data"
	spawn "$dir/gcs.pid" "$dir/gcs.log" "$FAKE_GCS_BIN" -scheme http -host 127.0.0.1 \
		-port "$MESH_GCS_PORT" -backend filesystem -filesystem-root "$dir/data" \
		-external-url "http://127.0.0.1:$MESH_GCS_PORT" -public-host "127.0.0.1:$MESH_GCS_PORT" \
		-log-level warn
	wait_http gcs "$dir/gcs.log" "$dir/gcs.pid" "$MESH_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_GCS_PORT/_internal/healthcheck"
}

start_gcs() {
	fresh_dir gcs >/dev/null
	run_gcs
}

stop_gcs() { stop_pidfile gcs "$MESH_TEST_DIR/gcs/gcs.pid" "fake-gcs-server .*-port $MESH_GCS_PORT( |$)"; }
port_gcs() { echo "$MESH_GCS_PORT"; }
pid_gcs() { read_pidfile "$MESH_TEST_DIR/gcs/gcs.pid"; }

# gcs_auth_keys DIR: the test service account's keys and key files.
gcs_auth_keys() {
	local d=$1
	openssl genrsa -out "$d/key.pem" 2048 2>/dev/null
	openssl rsa -in "$d/key.pem" -pubout -out "$d/pub.pem" 2>/dev/null
	openssl genrsa -out "$d/wrong.pem" 2048 2>/dev/null
	[ -s "$d/pub.pem" ] && [ -s "$d/wrong.pem" ] || die "gcs_auth: openssl could not make the test keys"
	python3 - "$d" "$GCS_CLIENT_EMAIL" "http://127.0.0.1:$MESH_GCS_TOKEN_PORT/token" <<'EOF'
import json, os, sys
d, email, token_uri = sys.argv[1:4]
for name, pem in (("sa.json", "key.pem"), ("sa_wrong.json", "wrong.pem")):
    with open(os.path.join(d, pem)) as f:
        key = f.read()
    doc = {"type": "service_account", "project_id": "mesh-test", "private_key_id": "mesh-test-key",
           "private_key": key, "client_email": email, "client_id": "1",
           "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri}
    with open(os.path.join(d, name), "w") as f:
        json.dump(doc, f)
EOF
	chmod 600 "$d"/*.pem "$d"/*.json
}

# run_gcs_auth: the token endpoint and proxy, with the keys of its folder.
run_gcs_auth() {
	local dir="$MESH_TEST_DIR/gcs_auth"
	need_bin gcs_auth openssl
	require_port_free gcs_auth "$MESH_GCS_TOKEN_PORT"
	[ -s "$dir/pub.pem" ] || gcs_auth_keys "$dir"
	# the static token travels in the environment, not in argv
	MESH_GCS_STATIC_TOKEN=$GCS_STATIC_TOKEN spawn "$dir/gcs_auth.pid" "$dir/gcs_auth.log" \
		"$(python_bin)" "$REPO/fdw/gcs/test/gcs_auth_standin.py" "$MESH_GCS_TOKEN_PORT" 127.0.0.1 \
		"http://127.0.0.1:$MESH_GCS_PORT" "$dir/pub.pem" "$GCS_CLIENT_EMAIL"
	wait_http gcs_auth "$dir/gcs_auth.log" "$dir/gcs_auth.pid" "$MESH_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_GCS_TOKEN_PORT/_grants"
}

start_gcs_auth() {
	fresh_dir gcs_auth >/dev/null
	run_gcs_auth
}

stop_gcs_auth() {
	stop_pidfile gcs_auth "$MESH_TEST_DIR/gcs_auth/gcs_auth.pid" "gcs_auth_standin\.py $MESH_GCS_TOKEN_PORT( |$)"
}
port_gcs_auth() { echo "$MESH_GCS_TOKEN_PORT"; }
pid_gcs_auth() { read_pidfile "$MESH_TEST_DIR/gcs_auth/gcs_auth.pid"; }

gcs_client() { "$(python_bin)" "$REPO/fdw/gcs/test/gcs_client.py" "$@"; }

gcs_mkbucket() {
	[ $# -eq 1 ] || die "usage: harness.sh gcs-mkbucket BUCKET"
	gcs_client mkbucket "http://127.0.0.1:$MESH_GCS_PORT" "$1" || die "gcs-mkbucket $1 failed"
}

gcs_put() {
	[ $# -ge 2 ] || die "usage: harness.sh gcs-put BUCKET NAME [BODY [CONTENT_TYPE [NAME=VALUE...]]]"
	gcs_client put "http://127.0.0.1:$MESH_GCS_PORT" "$@" || die "gcs-put $1/$2 failed"
}

gcs_grants() { gcs_client grants "http://127.0.0.1:$MESH_GCS_TOKEN_PORT" "$@"; }
gcs_grants_reset() { gcs_client reset "http://127.0.0.1:$MESH_GCS_TOKEN_PORT" || die "gcs-grants-reset failed"; }
gcs_token_ttl() {
	[ $# -eq 1 ] || die "usage: harness.sh gcs-token-ttl SECONDS"
	gcs_client ttl "http://127.0.0.1:$MESH_GCS_TOKEN_PORT" "$1" || die "gcs-token-ttl failed"
}
