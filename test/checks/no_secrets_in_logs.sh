#!/usr/bin/env bash
# servers: (the hub only)
# Check: no test secret appears in the hub PostgreSQL log or any test server's log.
# Secrets belong in USER MAPPINGs and must be redacted everywhere mesh writes
# (errors, EXPLAIN, logs). Note: PostgreSQL itself logs the text of a failing
# statement (log_min_error_statement = error), so a test must not put a secret
# literal into a statement that is expected to fail.
# Exit 0 = pass; non-zero = fail, with the reason.
set -euo pipefail

name=no_secrets_in_logs
dir=${MESH_TEST_DIR:-/tmp/mesh-test}
secrets="remote_secret_pw redis_secret_pw meshuser_pw mesh_ch_pw mesh_es_api_key_secret mesh_neo4j_pw mesh_qdrant_key mesh_mongo_pw mesh_s3_secret_key wrong_s3_secret_value mesh_s3_session_tok mesh_gcs_static_token mesh_gcs_revoked_token Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq bWVzaF93cm9uZ19henVyZV9rZXlfdmFsdWVf"
# the GCS tests' service account keys (made per run by the gcs_auth server):
# the first line of each key's base64 body
for pem in "$dir"/gcs_auth/key.pem "$dir"/gcs_auth/wrong.pem; do
	if [ -s "$pem" ]; then secrets="$secrets $(sed -n 2p "$pem")"; fi
done

shopt -s nullglob
logs=("$dir"/*/*.log "$dir"/pg_hub/data/log/*)
hub_logs=("$dir"/pg_hub/postgres.log)

if [ ${#hub_logs[@]} -eq 0 ] || [ ! -s "${hub_logs[0]}" ]; then
	echo "$name: FAILED: no hub log at $dir/pg_hub/postgres.log (nothing to check; did the harness start?)"
	exit 1
fi

found=0
for secret in $secrets; do
	for f in "${logs[@]}"; do
		[ -f "$f" ] || continue
		if grep -q -F -- "$secret" "$f"; then
			found=1
			echo "$name: FAILED: secret '${secret:0:3}...' appears in $f:"
			# Show where, with the secret itself masked.
			grep -n -F -- "$secret" "$f" | head -n 5 | sed "s|$secret|<REDACTED>|g"
		fi
	done
done

if [ "$found" -ne 0 ]; then
	exit 1
fi
echo "$name: ok (${#logs[@]} log files checked for $(wc -w <<<"$secrets") secrets)"
