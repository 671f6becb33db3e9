# mesh harness recipe of mesh_s3 (sourced by test/harness.sh, not run).
#
#   s3   versitygw v1.8.0 (an S3 gateway that checks SigV4 signatures: a
#        wrong secret is a 403), posix backend in $MESH_TEST_DIR/s3/data,
#        root keys $S3_ACCESS_KEY / $S3_SECRET_KEY, on 127.0.0.1:$MESH_S3_PORT
#        (plain HTTP, path-style and, under the domain localhost,
#        virtual-hosted-style addressing).
#   s3_tls the same gateway over HTTPS on 127.0.0.1:$MESH_S3_TLS_PORT, with
#        the certificate of the harness's `tls` server (its test CA; started
#        before), serving the same data directory as s3.
#   minio MinIO (pinned pseudo-version $MINIO_VERSION; AGPL, run only as a
#        test server) on 127.0.0.1:$MESH_MINIO_PORT (console on
#        127.0.0.1:$MESH_MINIO_CONSOLE_PORT), data in $MESH_TEST_DIR/minio/data,
#        root user/password the same keys as s3 (MINIO_ROOT_USER /
#        MINIO_ROOT_PASSWORD, in the environment), plain HTTP, path-style and,
#        with MINIO_DOMAIN=localhost, virtual-hosted-style addressing.
#        It also listens on [::1]:$MESH_MINIO_PORT whatever --address says
#        (seen: ss -ltn).
#
# versitygw comes from the Go module proxy (`go env GOPROXY` as configured):
# `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0` (about 2
# minutes), built once per machine into $MESH_CACHE_DIR/versitygw-<version>/
# by install_s3 (called by `harness.sh install`).  MinIO likewise:
# `go install github.com/minio/minio@$MINIO_VERSION` (about 2.5 minutes;
# the module proxy serves MinIO only as pseudo-versions, so the exact one is
# pinned) into $MESH_CACHE_DIR/minio-<version>/ by install_minio.  Go from
# PATH or /usr/local/go/bin (go_bin).
#
# Commands for test setup (signed by curl's --aws-sigv4 with the root keys),
# sent to the s3 server, or to the server named by MESH_S3_TARGET (s3 or
# minio; a suite sets it with psql's \setenv):
#   harness.sh s3-mkbucket BUCKET
#   harness.sh s3-put BUCKET KEY [BODY [CONTENT_TYPE [NAME=VALUE...]]]
#     (KEY is escaped here; NAME=VALUE pairs become x-amz-meta-NAME headers,
#     or the header NAME when NAME begins Content- (Content-Encoding=gzip);
#     a BODY @FILE is the file's bytes, as curl reads it)
#   harness.sh s3-get BUCKET KEY   (the object's bytes on stdout)
#   harness.sh s3-uploads BUCKET   (the number of unfinished multipart uploads)
#   harness.sh s3-cat BUCKET PREFIX (every object under PREFIX, in key order)
#   harness.sh s3-empty BUCKET     (delete every object: the data outlives a run)
#
# port: MESH_S3_PORT 466
# port: MESH_S3_TLS_PORT 467
# port: MESH_MINIO_PORT 468
# port: MESH_MINIO_CONSOLE_PORT 469

VERSITYGW_VERSION=v1.8.0
VERSITYGW_BIN=$MESH_CACHE_DIR/versitygw-$VERSITYGW_VERSION/versitygw
S3_ACCESS_KEY=mesh_s3_access
S3_SECRET_KEY=mesh_s3_secret_key
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MINIO_BIN=$MESH_CACHE_DIR/minio-$MINIO_VERSION/minio

# OpenSSL's SHA-256 and HMAC sign the requests (fdw/s3/s3_sign.c); zlib and
# zstd decode compressed objects (src/object_stream.c)
harness_build_packages libssl-dev zlib1g-dev libzstd-dev
# the s3_read suites compress their test objects with the zstd tool
harness_build_packages zstd
harness_server s3 install=install_s3
harness_server s3_tls deps=tls install=install_s3
harness_server minio install=install_minio
harness_command s3-mkbucket s3_mkbucket "BUCKET: create a bucket on the s3 server (or \$MESH_S3_TARGET: s3, minio)"
harness_command s3-put s3_put "BUCKET KEY [BODY|@FILE [CONTENT_TYPE [NAME=VALUE...]]]: put an object on the s3 server (or \$MESH_S3_TARGET)"
harness_command s3-uploads s3_uploads "BUCKET: how many multipart uploads are under way (s3 server or \$MESH_S3_TARGET)"
harness_command s3-empty s3_empty "BUCKET: delete every object of the bucket (a suite's leftovers from an earlier run; s3 server or \$MESH_S3_TARGET)"
harness_command s3-cat s3_cat "BUCKET PREFIX: every object under PREFIX, concatenated in key order (s3 server or \$MESH_S3_TARGET)"
harness_command s3-get s3_get "BUCKET KEY: an object's bytes on stdout, from the s3 server (or \$MESH_S3_TARGET)"

install_s3() {
	go_install versitygw github.com/versity/versitygw github.com/versity/versitygw/cmd/versitygw \
		"$VERSITYGW_VERSION" "$VERSITYGW_BIN"
}

install_minio() {
	go_install minio github.com/minio/minio github.com/minio/minio "$MINIO_VERSION" "$MINIO_BIN"
}

# run_s3: start versitygw on the data in $MESH_TEST_DIR/s3/data (kept).
run_s3() {
	local dir="$MESH_TEST_DIR/s3"
	[ -x "$VERSITYGW_BIN" ] || die "s3: $VERSITYGW_BIN missing: run '$HARNESS install s3'"
	require_port_free s3 "$MESH_S3_PORT"
	mkdir -p "$dir/data"
	# the keys travel in the environment, not in argv
	ROOT_ACCESS_KEY_ID=$S3_ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
		spawn "$dir/s3.pid" "$dir/s3.log" "$VERSITYGW_BIN" --port "127.0.0.1:$MESH_S3_PORT" \
		--quiet --virtual-domain "localhost:$MESH_S3_PORT" posix "$dir/data"
	# ready once it answers; an unsigned request is refused (403), as it should be
	wait_http s3 "$dir/s3.log" "$dir/s3.pid" "$MESH_START_TIMEOUT" 403 "http://127.0.0.1:$MESH_S3_PORT/"
}

# run_s3_tls: the HTTPS gateway over the data of s3 (created if missing).
run_s3_tls() {
	local dir="$MESH_TEST_DIR/s3_tls" certs="$MESH_TEST_DIR/tls"
	[ -x "$VERSITYGW_BIN" ] || die "s3_tls: $VERSITYGW_BIN missing: run '$HARNESS install s3'"
	[ -s "$certs/server.crt" ] || die "s3_tls: no test certificate in $certs (start the 'tls' server first)"
	require_port_free s3_tls "$MESH_S3_TLS_PORT"
	mkdir -p "$dir" "$MESH_TEST_DIR/s3/data"
	ROOT_ACCESS_KEY_ID=$S3_ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$S3_SECRET_KEY \
		spawn "$dir/s3_tls.pid" "$dir/s3_tls.log" "$VERSITYGW_BIN" --port "127.0.0.1:$MESH_S3_TLS_PORT" \
		--quiet --cert "$certs/server.crt" --key "$certs/server.key" posix "$MESH_TEST_DIR/s3/data"
	# ready once it answers over TLS (verified with the test CA); unsigned: 403
	wait_http s3_tls "$dir/s3_tls.log" "$dir/s3_tls.pid" "$MESH_START_TIMEOUT" 403 \
		"https://127.0.0.1:$MESH_S3_TLS_PORT/" "" "$certs/ca.crt"
}

start_s3_tls() {
	fresh_dir s3_tls >/dev/null
	run_s3_tls
}

stop_s3_tls() { stop_pidfile s3_tls "$MESH_TEST_DIR/s3_tls/s3_tls.pid" "versitygw --port 127\.0\.0\.1:$MESH_S3_TLS_PORT( |$)"; }
port_s3_tls() { echo "$MESH_S3_TLS_PORT"; }
pid_s3_tls() { read_pidfile "$MESH_TEST_DIR/s3_tls/s3_tls.pid"; }

start_s3() {
	fresh_dir s3 >/dev/null
	run_s3
}

stop_s3() { stop_pidfile s3 "$MESH_TEST_DIR/s3/s3.pid" "versitygw --port 127\.0\.0\.1:$MESH_S3_PORT( |$)"; }
port_s3() { echo "$MESH_S3_PORT"; }
pid_s3() { read_pidfile "$MESH_TEST_DIR/s3/s3.pid"; }

# run_minio: start MinIO on the data in $MESH_TEST_DIR/minio/data (kept).
run_minio() {
	local dir="$MESH_TEST_DIR/minio"
	[ -x "$MINIO_BIN" ] || die "minio: $MINIO_BIN missing: run '$HARNESS install minio'"
	require_port_free minio "$MESH_MINIO_PORT"
	require_port_free minio "$MESH_MINIO_CONSOLE_PORT"
	mkdir -p "$dir/data" "$dir/certs"
	# the keys travel in the environment, not in argv; no update checks;
	# MINIO_DOMAIN turns on virtual-hosted-style requests (bucket.localhost)
	MINIO_ROOT_USER=$S3_ACCESS_KEY MINIO_ROOT_PASSWORD=$S3_SECRET_KEY MINIO_UPDATE=off \
		MINIO_DOMAIN=localhost \
		spawn "$dir/minio.pid" "$dir/minio.log" "$MINIO_BIN" server "$dir/data" --quiet \
		--certs-dir "$dir/certs" --address "127.0.0.1:$MESH_MINIO_PORT" \
		--console-address "127.0.0.1:$MESH_MINIO_CONSOLE_PORT"
	wait_http minio "$dir/minio.log" "$dir/minio.pid" "$MESH_START_TIMEOUT" 200 \
		"http://127.0.0.1:$MESH_MINIO_PORT/minio/health/live"
}

start_minio() {
	fresh_dir minio >/dev/null
	run_minio
}

stop_minio() { stop_pidfile minio "$MESH_TEST_DIR/minio/minio.pid" "minio server .* --address 127\.0\.0\.1:$MESH_MINIO_PORT( |$)"; }
port_minio() { echo "$MESH_MINIO_PORT"; }
pid_minio() { read_pidfile "$MESH_TEST_DIR/minio/minio.pid"; }

# s3_target_url: the endpoint s3-mkbucket and s3-put send to (the s3 server
# unless MESH_S3_TARGET names another).
s3_target_url() {
	case ${MESH_S3_TARGET:-s3} in
	s3) echo "http://127.0.0.1:$MESH_S3_PORT" ;;
	minio) echo "http://127.0.0.1:$MESH_MINIO_PORT" ;;
	*) die "MESH_S3_TARGET='$MESH_S3_TARGET': not s3 or minio" ;;
	esac
}

# s3_curl ARGS...: a request signed with the root keys (curl signs, the
# caller sends the payload's SHA-256, as SigV4 for S3 wants).
s3_curl() {
	curl -sS -m 10 --fail-with-body --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$S3_ACCESS_KEY:$S3_SECRET_KEY" "$@"
}

# s3_escape TEXT: TEXT percent-encoded as a URL path ('/' kept).
s3_escape() {
	python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/~"))' "$1"
}
# s3_escape_value S: S escaped for a query value ('/' too), as SigV4 signs it
s3_escape_value() {
	python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="~"))' "$1"
}

# s3_mkbucket BUCKET: create it unless it exists (a HEAD finds it).
s3_mkbucket() {
	local base url empty
	[ $# -eq 1 ] || die "usage: harness.sh s3-mkbucket BUCKET"
	base=$(s3_target_url) || exit 1
	url="$base/$(s3_escape "$1")"
	empty=$(printf '' | sha256sum | cut -d' ' -f1)
	s3_curl -o /dev/null -I -H "x-amz-content-sha256: $empty" "$url" 2>/dev/null && return 0
	s3_curl -o /dev/null -X PUT -H "x-amz-content-sha256: $empty" "$url" || die "s3-mkbucket $1 failed"
}

s3_put() {
	local bucket=$1 key=$2 body=${3:-} type=${4:-application/octet-stream} kv base sha
	local headers=()
	[ $# -ge 2 ] || die "usage: harness.sh s3-put BUCKET KEY [BODY [CONTENT_TYPE [NAME=VALUE...]]]"
	base=$(s3_target_url) || exit 1
	shift $(($# < 4 ? $# : 4))
	for kv in "$@"; do
		case $kv in
		Content-*) headers+=(-H "${kv%%=*}: ${kv#*=}") ;;
		*) headers+=(-H "x-amz-meta-${kv%%=*}: ${kv#*=}") ;;
		esac
	done
	if [ "${body:0:1}" = @ ]; then
		sha=$(sha256sum <"${body:1}" | cut -d' ' -f1) || die "s3-put: cannot read ${body:1}"
	else
		sha=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
	fi
	s3_curl -o /dev/null -X PUT --data-binary "$body" -H "Content-Type: $type" \
		-H "x-amz-content-sha256: $sha" "${headers[@]}" \
		"$base/$(s3_escape "$bucket")/$(s3_escape "$key")" ||
		die "s3-put $bucket/$key failed"
}

# s3_get BUCKET KEY: the object's bytes on stdout (a missing object fails)
s3_get() {
	local bucket=$1 key=$2 base
	[ $# -eq 2 ] || die "usage: harness.sh s3-get BUCKET KEY"
	base=$(s3_target_url) || exit 1
	s3_curl -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)" \
		"$base/$(s3_escape "$bucket")/$(s3_escape "$key")" || die "s3-get $bucket/$key failed"
}

# s3_uploads BUCKET: how many multipart uploads are under way in the bucket
s3_uploads() {
	local bucket=$1 base answer
	[ $# -eq 1 ] || die "usage: harness.sh s3-uploads BUCKET"
	base=$(s3_target_url) || exit 1
	answer=$(s3_curl -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)" \
		"$base/$(s3_escape "$bucket")?uploads=") || die "s3-uploads $bucket failed"
	grep -o '<Upload>' <<<"$answer" | wc -l
}

# s3_cat BUCKET PREFIX: the bytes of every object under PREFIX, in key order
# (keys as ListObjectsV2 gives them; for test keys without XML escapes)
s3_cat() {
	local bucket=$1 prefix=$2 base listing key
	[ $# -eq 2 ] || die "usage: harness.sh s3-cat BUCKET PREFIX"
	base=$(s3_target_url) || exit 1
	listing=$(s3_curl -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)" \
		"$base/$(s3_escape "$bucket")?list-type=2&prefix=$(s3_escape_value "$prefix")") || die "s3-cat: listing $bucket failed"
	for key in $(grep -o '<Key>[^<]*</Key>' <<<"$listing" | sed 's/<Key>\(.*\)<\/Key>/\1/'); do
		s3_get "$bucket" "$key"
	done
}

# s3_empty BUCKET: delete every object of BUCKET (test keys without XML escapes)
s3_empty() {
	local bucket=$1 base listing key empty_sha
	[ $# -eq 1 ] || die "usage: harness.sh s3-empty BUCKET"
	base=$(s3_target_url) || exit 1
	empty_sha=$(printf '' | sha256sum | cut -d' ' -f1)
	while :; do
		listing=$(s3_curl -H "x-amz-content-sha256: $empty_sha" \
			"$base/$(s3_escape "$bucket")?list-type=2") || die "s3-empty: listing $bucket failed"
		keys=$(grep -o '<Key>[^<]*</Key>' <<<"$listing" | sed 's/<Key>\(.*\)<\/Key>/\1/') || true
		[ -n "$keys" ] || return 0
		while IFS= read -r key; do
			s3_curl -o /dev/null -X DELETE -H "x-amz-content-sha256: $empty_sha" \
				"$base/$(s3_escape "$bucket")/$(s3_escape "$key")" || die "s3-empty: deleting $key failed"
		done <<<"$keys"
	done
}
