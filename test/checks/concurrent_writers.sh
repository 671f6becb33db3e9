#!/usr/bin/env bash
# servers: pg_remote redis
# Check: four clients updating, deleting and re-inserting the same 50 keys
# for five seconds (pgbench); both replicas converge to the source.
set -euo pipefail
CHECK=concurrent_writers
. "$(dirname "$0")/../lib/checks.sh"
db=mesh_check_conc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fresh_db "$db" hot "(id int PRIMARY KEY, v text, n int, client int)"
q -d "$db" >/dev/null <<'SQL'
INSERT INTO hot SELECT g, 'start', 0, 0 FROM generate_series(1, 50) g;
SELECT mesh.replicate('hot', 'cache', '{"key_prefix": "hot:"}');
SELECT mesh.replicate('hot', 'archive');
SELECT mesh.wait_for_sync(60000);
SQL
cat >"$work/writers.sql" <<'EOF2'
\set id random(1, 50)
\set op random(1, 10)
BEGIN;
UPDATE hot SET n = n + 1, v = 'c' || :client_id, client = :client_id WHERE id = :id;
\if :op = 1
DELETE FROM hot WHERE id = :id;
\elif :op = 2
INSERT INTO hot VALUES (:id, 'reborn', 0, :client_id) ON CONFLICT (id) DO UPDATE SET v = 'upsert';
\endif
COMMIT;
EOF2
"$(dirname "$(command -v psql)")/pgbench" -n -c 4 -j 2 -T 5 -f "$work/writers.sql" "$db" >"$work/pgbench.log" 2>&1 ||
	fail "pgbench failed: $(tail -3 "$work/pgbench.log")"
echo "$CHECK: $(grep -E '^number of transactions actually processed' "$work/pgbench.log")"
expect_consistent "$db" hot
q -d postgres -c "DROP DATABASE $db" >/dev/null
echo "$CHECK: ok"
