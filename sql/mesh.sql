-- mesh 0.1.0: the hub of a polyglot data mesh.
-- The install script sql/mesh--0.1.0.sql is built from this file followed
-- by every fdw/<kind>/<kind>.sql; edit these, not the generated file.
\echo Use "CREATE EXTENSION mesh" to load this file. \quit

GRANT USAGE ON SCHEMA mesh TO PUBLIC;

-- One handler for every mesh_<kind> wrapper: the connector is found from
-- the foreign table's server.
CREATE FUNCTION mesh.fdw_handler() RETURNS fdw_handler
	AS 'MODULE_PATHNAME', 'mesh_fdw_handler' LANGUAGE C STRICT;

-- Backend kinds: one validator (named <kind>_validator) and one wrapper
-- each, declared in fdw/<kind>/<kind>.sql (appended to this file at build).

-- Whether a wrapper's connector declares an option secret: the one
-- definition of a secret (a MeshOption with .secret = true).
CREATE FUNCTION mesh.option_is_secret(fdw name, option text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'mesh_option_is_secret' LANGUAGE C STABLE STRICT;

-- mesh.backends(): every server of a mesh wrapper or postgres_fdw; the
-- value of a secret option is never shown.
CREATE FUNCTION mesh.backends()
RETURNS TABLE(server name, kind text, fdw name, options jsonb)
LANGUAGE sql STABLE AS $$
	SELECT s.srvname, CASE WHEN w.fdwname = 'postgres_fdw' THEN 'postgres'
						   ELSE substr(w.fdwname, 6) END,
		   w.fdwname,
		   COALESCE((SELECT jsonb_object_agg(split_part(o, '=', 1),
					 CASE WHEN mesh.option_is_secret(w.fdwname, split_part(o, '=', 1))
						  THEN '********'
						  ELSE substr(o, length(split_part(o, '=', 1)) + 2) END)
					 FROM unnest(s.srvoptions) AS o), '{}'::jsonb)
	FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
	WHERE w.fdwname LIKE 'mesh\_%' OR w.fdwname = 'postgres_fdw'
	ORDER BY s.srvname
$$;

CREATE FUNCTION mesh.health(timeout_ms integer DEFAULT 2000)
RETURNS TABLE(server name, kind text, ok boolean, latency_ms double precision,
			  version text, error text)
	AS 'MODULE_PATHNAME', 'mesh_health' LANGUAGE C VOLATILE;

CREATE FUNCTION mesh.execute(server name, request text, params jsonb DEFAULT '{}')
RETURNS SETOF jsonb
	AS 'MODULE_PATHNAME', 'mesh_execute' LANGUAGE C VOLATILE;

-- a query's result as one object of an object-store server (object_export.c)
CREATE FUNCTION mesh.export(query text, server name, path text, format text DEFAULT NULL,
	options jsonb DEFAULT '{}',
	OUT key text, OUT rows bigint, OUT bytes bigint, OUT requests bigint)
	AS 'MODULE_PATHNAME', 'mesh_export' LANGUAGE C VOLATILE;

-- ===================================================================
-- Replication: routes, the event log, cursors, stats, dead letters
-- ===================================================================

-- A route: one source table fanned out to one target server.
CREATE TABLE mesh.route (
	id bigserial PRIMARY KEY,
	source regclass NOT NULL,
	target name NOT NULL,
	role text NOT NULL DEFAULT 'replica'
		CHECK (role IN ('replica', 'cache', 'search', 'stream')),
	options jsonb NOT NULL DEFAULT '{}',
	paused boolean NOT NULL DEFAULT false,
	owner oid NOT NULL,				-- whose user mapping reaches the target
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (source, target)
);

-- The event log: one row per captured row change.  Three generations
-- (partitions) rotate: a generation is truncated, never row-by-row
-- deleted, once every route has delivered it and it is older than
-- mesh.event_retention.
CREATE SEQUENCE mesh.event_id_seq CACHE 1;
CREATE TABLE mesh.event_log (
	id bigint NOT NULL,
	gen smallint NOT NULL,
	xid xid8 NOT NULL,				-- top-level transaction id
	source oid NOT NULL,
	op "char" NOT NULL,				-- I insert, U update, D delete, T truncate, S schema change (mesh.schema_change)
	key jsonb,						-- primary key columns, text forms
	row jsonb,						-- every column, text forms (NULL: json null)
	captured_at timestamptz NOT NULL,
	source_xid xid8					-- WAL capture: the writing transaction (xid is the decoder's)
) PARTITION BY LIST (gen);
CREATE TABLE mesh.event_log_0 PARTITION OF mesh.event_log FOR VALUES IN (0);
CREATE TABLE mesh.event_log_1 PARTITION OF mesh.event_log FOR VALUES IN (1);
CREATE TABLE mesh.event_log_2 PARTITION OF mesh.event_log FOR VALUES IN (2);
-- ids only grow: inserts always land on the rightmost leaf (cheap)
CREATE INDEX ON mesh.event_log_0 (id);
CREATE INDEX ON mesh.event_log_1 (id);
CREATE INDEX ON mesh.event_log_2 (id);

-- Each route's durable cursor (written only by its delivery worker and replay).
-- Delivered: every event whose transaction is visible in done_snap, plus,
-- in the batch under way (batch_snap), those with id <= batch_last_id.  No
-- undelivered event has an id below done_low (see route_worker.c).
CREATE TABLE mesh.route_cursor (
	route_id bigint PRIMARY KEY REFERENCES mesh.route ON DELETE CASCADE,
	backfilled boolean NOT NULL DEFAULT false,
	done_snap pg_snapshot,
	done_low bigint NOT NULL DEFAULT 1,
	batch_snap pg_snapshot,
	batch_next_low bigint,				-- done_low once the batch is done
	batch_low bigint,					-- lowest id the batch can hold
	batch_high bigint,					-- highest id the batch can hold
	batch_last_id bigint,
	epoch bigint NOT NULL DEFAULT 0,	-- bumped by replay: older cursor writes are void
	backfill_snap pg_snapshot,			-- the backfill's: WAL-captured events of transactions visible in it are skipped
	needs_resync text,					-- why the replica needs mesh.resync (route option on_schema_change 'mark')
	schema_error text					-- why the route waits at a schema change (the target refused the new columns)
);

CREATE TABLE mesh.route_stats (
	route_id bigint PRIMARY KEY REFERENCES mesh.route ON DELETE CASCADE,
	delivered bigint NOT NULL DEFAULT 0,
	failed bigint NOT NULL DEFAULT 0,
	last_error text,
	last_error_at timestamptz,
	last_delivered_at timestamptz,
	last_event_at timestamptz,			-- capture time of the last delivered event
	failures integer NOT NULL DEFAULT 0,	-- consecutive failed turns (delivery_pool.c)
	backoff_until timestamptz			-- no worker serves the route before then
);

-- One dead letter per refused (event, key): the rows of a backfill share
-- one event id (the version just under every later event), so the key is
-- part of the identity.
CREATE TABLE mesh.dead_letter_store (
	route bigint NOT NULL REFERENCES mesh.route (id) ON DELETE CASCADE,
	event_id bigint NOT NULL,
	op "char" NOT NULL,
	key jsonb NOT NULL,
	error text NOT NULL,				-- in full: may quote row values
	public_error text,					-- the same without them (redact.c)
	attempts integer NOT NULL DEFAULT 1,
	failed_at timestamptz NOT NULL DEFAULT now(),
	retry boolean NOT NULL DEFAULT false,	-- re-sync requested
	PRIMARY KEY (route, event_id, key)
);

-- The columns of each replicated table as its events carry them:
-- [[attnum, name, type oid, type], ...], kept by the ALTER TABLE event
-- trigger (mesh._on_alter_table).
CREATE TABLE mesh.source_columns (
	source oid PRIMARY KEY,
	columns jsonb NOT NULL
);

-- A column change of a replicated table (or a mesh.resync), at its marker
-- event (op 'S') in the event log: the events before the marker carry the
-- columns in before.  resync: rows changed beyond what capture saw (a
-- rewrite, a column added with a default, a rename), so the routes copy
-- the table again in place when they reach the marker (src/schema_apply.c).
CREATE TABLE mesh.schema_change (
	source oid NOT NULL,
	event_id bigint NOT NULL,
	before jsonb NOT NULL,
	after jsonb NOT NULL,
	added text[] NOT NULL DEFAULT '{}',	-- names of the columns added (or renamed to)
	resync boolean NOT NULL,
	reason text NOT NULL,
	target name,						-- mesh.resync of one route: its server; NULL: every route
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source, event_id)
);

-- Row data is private: only the extension's owner reads these directly.
REVOKE ALL ON mesh.source_columns, mesh.schema_change FROM PUBLIC;
REVOKE ALL ON mesh.event_log, mesh.event_log_0, mesh.event_log_1, mesh.event_log_2,
	mesh.route, mesh.route_cursor, mesh.route_stats, mesh.dead_letter_store FROM PUBLIC;
REVOKE ALL ON SEQUENCE mesh.event_id_seq, mesh.route_id_seq FROM PUBLIC;
-- ... except the events of the tables one owns (or whose owning role one
-- is a member of), through the parent table only: the partitions stay closed.
ALTER TABLE mesh.event_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY table_owner ON mesh.event_log FOR SELECT
	USING (pg_catalog.pg_has_role(current_user,
								  (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = source),
								  'USAGE'));
GRANT SELECT ON mesh.event_log TO PUBLIC;

-- The capture trigger: a role that may write a replicated table needs no
-- privilege on mesh.  It runs as the writer (no SECURITY DEFINER, no SET
-- search_path: each costs every statement, and the latter the next
-- statement's plan check): it runs no SQL and reaches the event log
-- through C calls that check no privileges (src/capture.c, event_write.c),
-- and the column types' output functions run as the writer's own.
CREATE FUNCTION mesh.capture() RETURNS trigger
	AS 'MODULE_PATHNAME', 'mesh_capture' LANGUAGE C;

-- Internal helpers implemented in C.
-- (Every mesh._* function is closed to PUBLIC at the end of the script.)
CREATE FUNCTION mesh._check_route(source regclass, target name, options jsonb, owner oid)
RETURNS void AS 'MODULE_PATHNAME', 'mesh_check_route' LANGUAGE C;
CREATE FUNCTION mesh._wake() RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_wake' LANGUAGE C;
-- An error as shown beyond the table's owner (src/redact.c), for tests.
CREATE FUNCTION mesh._redact_error(message text, detail text DEFAULT NULL,
								   sqlstate text DEFAULT NULL, constraint_name text DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'mesh_redact_error_sql' LANGUAGE C IMMUTABLE;
REVOKE ALL ON FUNCTION mesh._redact_error(text, text, text, text) FROM PUBLIC;

-- The lowest event id a route may still need (for retention).
CREATE FUNCTION mesh._route_need(route_id bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT c.done_low FROM mesh.route_cursor c WHERE c.route_id = _route_need.route_id
$$;

-- The lowest id a route's pending events may have (a cursor's columns):
-- done_low, or during a batch past what the batch delivered: every event
-- below both batch_next_low and batch_last_id + 1 is in batch_snap
-- (route_worker.c), hence delivered.  Lets a reader walk the id index from
-- there instead of over a delivered backlog.
CREATE FUNCTION mesh._pending_from(done_low bigint, batch_snap pg_snapshot,
								   batch_next_low bigint, batch_last_id bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN batch_snap IS NULL THEN done_low
				ELSE greatest(done_low, least(batch_next_low, batch_last_id + 1)) END
$$;

-- The events a route has not delivered yet (those visible in snap, if
-- given), and the capture time of the oldest.
CREATE FUNCTION mesh._route_pending(route_id bigint, snap pg_snapshot DEFAULT NULL,
									OUT pending bigint, OUT oldest timestamptz)
LANGUAGE sql STABLE AS $$
	SELECT count(*), min(e.captured_at)
	FROM mesh.route r
	JOIN mesh.route_cursor c ON c.route_id = r.id
	JOIN mesh.event_log e ON e.source = r.source
		AND e.id >= mesh._pending_from(c.done_low, c.batch_snap, c.batch_next_low, c.batch_last_id)
	WHERE r.id = _route_pending.route_id AND c.backfilled
	  AND NOT pg_visible_in_snapshot(e.xid, c.done_snap)
	  AND NOT (c.batch_snap IS NOT NULL AND pg_visible_in_snapshot(e.xid, c.batch_snap)
			   AND e.id <= c.batch_last_id)
	  AND (snap IS NULL OR pg_visible_in_snapshot(e.xid, snap))
$$;
REVOKE ALL ON FUNCTION mesh._route_need(bigint), mesh._route_pending(bigint, pg_snapshot) FROM PUBLIC;

-- The key columns of a table's primary key, in key order.
CREATE FUNCTION mesh._primary_key(rel regclass) RETURNS text[]
LANGUAGE sql STABLE AS $$
	SELECT array_agg(a.attname::text ORDER BY k.n)
	FROM pg_index i
	CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
	JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
	WHERE i.indrelid = rel AND i.indisprimary
$$;

-- Install or remove the capture triggers of a source table.
CREATE FUNCTION mesh._install_capture(rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'mesh_capture_insert') THEN
		RETURN;
	END IF;
	EXECUTE format('CREATE TRIGGER mesh_capture_insert AFTER INSERT ON %s
		REFERENCING NEW TABLE AS mesh_new FOR EACH STATEMENT EXECUTE FUNCTION mesh.capture()', rel);
	EXECUTE format('CREATE TRIGGER mesh_capture_update AFTER UPDATE ON %s
		REFERENCING OLD TABLE AS mesh_old NEW TABLE AS mesh_new FOR EACH STATEMENT EXECUTE FUNCTION mesh.capture()', rel);
	EXECUTE format('CREATE TRIGGER mesh_capture_delete AFTER DELETE ON %s
		REFERENCING OLD TABLE AS mesh_old FOR EACH STATEMENT EXECUTE FUNCTION mesh.capture()', rel);
	EXECUTE format('CREATE TRIGGER mesh_capture_truncate AFTER TRUNCATE ON %s
		FOR EACH STATEMENT EXECUTE FUNCTION mesh.capture()', rel);
END $$;

CREATE FUNCTION mesh._remove_capture(rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	EXECUTE format('DROP TRIGGER IF EXISTS mesh_capture_insert ON %s', rel);
	EXECUTE format('DROP TRIGGER IF EXISTS mesh_capture_update ON %s', rel);
	EXECUTE format('DROP TRIGGER IF EXISTS mesh_capture_delete ON %s', rel);
	EXECUTE format('DROP TRIGGER IF EXISTS mesh_capture_truncate ON %s', rel);
END $$;
REVOKE ALL ON FUNCTION mesh._install_capture(regclass), mesh._remove_capture(regclass) FROM PUBLIC;

-- WAL capture (src/wal_capture.c): the database worker decodes the changes
-- of the tables in sources from its replication slot into the event log;
-- processed_lsn is the end of the last source transaction it wrote there.
-- Kept by the worker alone.
CREATE TABLE mesh.wal_capture (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	processed_lsn pg_lsn NOT NULL DEFAULT '0/0',
	sources oid[] NOT NULL DEFAULT '{}'
);

-- Tables whose capture was chosen with mesh.set_capture: with mesh.capture
-- auto or wal the worker moves every other trigger-captured table to WAL.
CREATE TABLE mesh.capture_choice (
	source regclass PRIMARY KEY,
	capture text NOT NULL CHECK (capture IN ('wal', 'trigger'))
);

-- From the transactions that commit after the caller's, capture rel from
-- WAL (capture = true) or stop: a logical message the worker decodes.
CREATE FUNCTION mesh._wal_register(rel regclass, capture boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_wal_register' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION mesh._wal_register(regclass, boolean) FROM PUBLIC;


-- The replication slot of this database's WAL capture.
CREATE FUNCTION mesh._wal_slot() RETURNS name
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
	SELECT ('mesh_' || oid)::name FROM pg_database WHERE datname = current_database()
$$;

-- Whether this database's worker decodes WAL into the event log now: the
-- slot exists and the worker has started reading it.
CREATE FUNCTION mesh._wal_ready() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
	SELECT current_setting('wal_level') = 'logical'
	   AND EXISTS (SELECT 1 FROM mesh.wal_capture)
	   AND EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = mesh._wal_slot())
$$;

-- WAL capture of this database: its slot, whether the worker reads it, the
-- WAL written since what the worker confirmed (not yet in the event log,
-- or not yet confirmed) and the WAL the slot keeps on disk.
CREATE VIEW mesh.wal_capture_status AS
	SELECT s.slot_name, s.active,
		   pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint AS lag_bytes,
		   pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint AS retained_bytes,
		   (SELECT count(DISTINCT r.source) FROM mesh.route r
			WHERE NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = r.source
							  AND g.tgname = 'mesh_capture_insert')) AS tables
	FROM pg_replication_slots s WHERE s.slot_name = mesh._wal_slot();

-- Errors unless this database's worker decodes WAL into the event log.
CREATE FUNCTION mesh._require_wal(rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	IF NOT mesh._wal_ready() THEN
		RAISE EXCEPTION 'cannot capture % from WAL', rel
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = CASE WHEN current_setting('wal_level') <> 'logical'
							THEN format('wal_level is %s.', current_setting('wal_level'))
							ELSE 'The database worker has no replication slot for WAL capture (yet).' END,
				  HINT = 'WAL capture needs wal_level = logical, max_replication_slots > 0 and, where the server has the setting, mesh in output_plugin_libraries; the worker creates its slot within seconds. Or set mesh.capture to auto or trigger.';
	END IF;
END $$;

-- Capture rel from WAL from the transactions that commit after the
-- caller's.  REPLICA IDENTITY FULL: an update's unchanged TOASTed values
-- are only in its old row.
CREATE FUNCTION mesh._capture_from_wal(rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	PERFORM mesh._require_wal(rel);
	IF (SELECT relreplident FROM pg_class WHERE oid = rel) <> 'f' THEN
		EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', rel);
	END IF;
	PERFORM mesh._wal_register(rel, true);
END $$;

-- Start capturing rel (before its first route exists): from WAL where
-- mesh.capture says so and the worker's slot is ready, else with the
-- capture triggers.  Returns how.
CREATE FUNCTION mesh._start_capture(rel regclass) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
	mode text := current_setting('mesh.capture');
BEGIN
	IF mesh.capture_of(rel) IS NOT NULL THEN
		RETURN mesh.capture_of(rel);
	END IF;
	IF mode = 'trigger' OR (mode = 'auto' AND NOT mesh._wal_ready()) THEN
		PERFORM mesh._install_capture(rel);
		RETURN 'trigger';
	END IF;
	PERFORM mesh._capture_from_wal(rel);
	RETURN 'wal';
END $$;

-- Blocks until the worker has written every change of a WAL-captured
-- table committed before the call into the event log; errors after 60 s.
CREATE FUNCTION mesh._wal_catch_up() RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_wal_catch_up' LANGUAGE C;

-- Stop capturing rel (its last route is gone).
CREATE FUNCTION mesh._stop_capture(rel regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'mesh_capture_insert') THEN
		PERFORM mesh._remove_capture(rel);
	ELSE
		PERFORM mesh._wal_register(rel, false);
	END IF;
END $$;
REVOKE ALL ON FUNCTION mesh._start_capture(regclass), mesh._stop_capture(regclass),
	mesh._require_wal(regclass), mesh._capture_from_wal(regclass), mesh._wal_catch_up() FROM PUBLIC;

CREATE FUNCTION mesh._caller() RETURNS oid
	AS 'MODULE_PATHNAME', 'mesh_caller' LANGUAGE C STABLE;

-- How rel's changes are captured: 'wal', 'trigger', or NULL (not
-- replicated, or not a table the caller may read).
CREATE FUNCTION mesh.capture_of(rel regclass) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
	SELECT CASE
		WHEN NOT has_table_privilege(mesh._caller(), rel, 'SELECT') THEN NULL
		WHEN EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'mesh_capture_insert') THEN 'trigger'
		WHEN EXISTS (SELECT 1 FROM mesh.route r WHERE r.source = rel) THEN 'wal' END
$$;

-- Route operations: mesh.X(args) is the C function mesh_api, which calls
-- mesh._X(caller, args) as mesh's owner with caller = the current user at
-- the call (src/privilege.c).  mesh._X checks what caller may do.

-- Errors unless caller owns rel (or is a member of its owning role), as
-- CREATE PUBLICATION requires, and has USAGE on the target server.
CREATE FUNCTION mesh._check_owner(caller oid, rel regclass, target name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c record;
BEGIN
	IF rel IS NULL OR target IS NULL THEN
		RAISE EXCEPTION 'table and server must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT relname, relowner, relkind INTO c FROM pg_class WHERE oid = rel;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', rel::oid USING ERRCODE = 'undefined_table';
	END IF;
	IF NOT pg_has_role(caller, c.relowner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of % %',
			CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
				 WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table'
				 ELSE 'relation' END, c.relname
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_foreign_server WHERE srvname = target) THEN
		RAISE EXCEPTION 'server "%" does not exist', target USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT has_server_privilege(caller, target, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for foreign server %', target
			USING ERRCODE = 'insufficient_privilege';
	END IF;
END $$;

-- The id of the route source -> target; errors when there is none.
CREATE FUNCTION mesh._route_of(source regclass, target name) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rid bigint;
BEGIN
	SELECT r.id INTO rid FROM mesh.route r WHERE r.source = _route_of.source AND r.target = _route_of.target;
	IF rid IS NULL THEN
		RAISE EXCEPTION 'table % is not replicated to "%"', source, target
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN rid;
END $$;

-- mesh.replicate: capture every change of source and deliver it to target.
-- Existing rows are copied first (backfill), read as the caller, who owns
-- the route.  Returns the route id.
CREATE FUNCTION mesh.replicate(source regclass, target name, options jsonb DEFAULT '{}',
							   role text DEFAULT 'replica')
RETURNS bigint AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._replicate(caller oid, source regclass, target name, options jsonb,
								role text)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	route_id bigint;
BEGIN
	PERFORM mesh._check_owner(caller, source, target);
	-- the backfill reads the table as the caller: rows row level security
	-- hides from it would silently be missing from the replica
	IF (SELECT relrowsecurity FROM pg_class WHERE oid = source)
	   AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE oid = caller) THEN
		RAISE EXCEPTION 'cannot replicate table % because row level security is enabled on it',
			(SELECT relname FROM pg_class WHERE oid = source)
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Only superusers and roles with BYPASSRLS can replicate a table with row level security.';
	END IF;
	IF role IS NULL OR role NOT IN ('replica', 'cache', 'search', 'stream') THEN
		RAISE EXCEPTION 'invalid role "%"', role USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'Allowed values: replica, cache, search, stream.';
	END IF;
	IF (SELECT relkind FROM pg_class WHERE oid = source) NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', source USING ERRCODE = 'wrong_object_type',
			HINT = 'Only tables can be replicated.';
	END IF;
	IF mesh._primary_key(source) IS NULL THEN
		RAISE EXCEPTION 'table % has no primary key', source
			USING ERRCODE = 'invalid_table_definition',
				  HINT = 'Replicas are keyed by the primary key: add one with ALTER TABLE ... ADD PRIMARY KEY.';
	END IF;
	IF EXISTS (SELECT 1 FROM mesh.route r WHERE r.source = _replicate.source AND r.target = _replicate.target) THEN
		RAISE EXCEPTION 'table % is already replicated to "%"', source, target
			USING ERRCODE = 'duplicate_object',
				  HINT = 'Use mesh.unreplicate() first to change the route''s options.';
	END IF;
	PERFORM mesh._check_route(source, target, COALESCE(options, '{}'), caller);
	-- before the route exists: REPLICA IDENTITY FULL is no schema change to route
	PERFORM mesh._start_capture(source);
	IF NOT EXISTS (SELECT 1 FROM mesh.route r WHERE r.source = _replicate.source) THEN
		-- a table's first route: its columns from now on (an earlier table
		-- with the same OID may have left its schema changes behind)
		DELETE FROM mesh.schema_change c WHERE c.source = _replicate.source;
		INSERT INTO mesh.source_columns VALUES (source, mesh._columns(source))
			ON CONFLICT ON CONSTRAINT source_columns_pkey DO UPDATE SET columns = EXCLUDED.columns;
	END IF;
	INSERT INTO mesh.route (source, target, role, options, owner)
		VALUES (source, target, role, COALESCE(options, '{}'), caller)
		RETURNING id INTO route_id;
	INSERT INTO mesh.route_cursor (route_id) VALUES (route_id);
	INSERT INTO mesh.route_stats (route_id) VALUES (route_id);
	PERFORM mesh._wake();
	RETURN route_id;
END $$;

-- mesh.unreplicate: remove the route(s); capture stops with the last one.
CREATE FUNCTION mesh.unreplicate(source regclass, target name)
RETURNS integer AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._unreplicate(caller oid, source regclass, target name)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n integer;
BEGIN
	PERFORM mesh._check_owner(caller, source, target);
	-- Removing the last route drops the capture triggers, which needs an
	-- exclusive lock on the table: take it before the route's rows are
	-- locked, so a delivery worker reading the table (a backfill) finishes
	-- first instead of waiting for this transaction (a deadlock).
	IF NOT EXISTS (SELECT 1 FROM mesh.route r
				   WHERE r.source = _unreplicate.source AND r.target <> _unreplicate.target) THEN
		EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', source);
	END IF;
	DELETE FROM mesh.route r WHERE r.source = _unreplicate.source AND r.target = _unreplicate.target;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF NOT EXISTS (SELECT 1 FROM mesh.route r WHERE r.source = _unreplicate.source) THEN
		PERFORM mesh._stop_capture(source);
		DELETE FROM mesh.capture_choice c WHERE c.source = _unreplicate.source;
		DELETE FROM mesh.source_columns c WHERE c.source = _unreplicate.source;
	END IF;
	PERFORM mesh._wake();
	RETURN n;
END $$;

CREATE FUNCTION mesh._set_paused(caller oid, source regclass, target name, value boolean)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM mesh._check_owner(caller, source, target);
	UPDATE mesh.route r SET paused = value WHERE r.source = _set_paused.source AND r.target = _set_paused.target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % is not replicated to "%"', source, target
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM mesh._wake();
	RETURN value;
END $$;

-- mesh.set_capture: capture a replicated table from WAL or with triggers
-- from now on.  Writers of the table wait for the switch's transaction
-- (SHARE ROW EXCLUSIVE); every transaction before it is captured the old
-- way, every one after it the new way, none twice.  Switching to triggers
-- first waits until the WAL decoded so far is in the event log, so the
-- events keep their commit order.
CREATE FUNCTION mesh.set_capture(source regclass, capture text) RETURNS text
	AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._set_capture(caller oid, source regclass, capture text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF source IS NULL OR capture IS NULL THEN
		RAISE EXCEPTION 'table and capture must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT pg_has_role(caller, (SELECT relowner FROM pg_class WHERE oid = source), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', (SELECT relname FROM pg_class WHERE oid = source)
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF capture NOT IN ('wal', 'trigger') THEN
		RAISE EXCEPTION 'invalid capture "%"', capture USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'Allowed values: wal, trigger.';
	END IF;
	IF mesh.capture_of(source) IS NULL THEN
		RAISE EXCEPTION 'table % is not replicated', source USING ERRCODE = 'undefined_object';
	END IF;
	INSERT INTO mesh.capture_choice VALUES (source, capture)
		ON CONFLICT ON CONSTRAINT capture_choice_pkey DO UPDATE SET capture = EXCLUDED.capture;
	IF mesh.capture_of(source) = capture THEN
		RETURN capture;
	END IF;
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', source);
	IF capture = 'wal' THEN
		PERFORM mesh._require_wal(source);
		PERFORM mesh._remove_capture(source);
		PERFORM mesh._capture_from_wal(source);
	ELSE
		PERFORM mesh._wal_catch_up();
		PERFORM mesh._install_capture(source);
		PERFORM mesh._wal_register(source, false);
	END IF;
	PERFORM mesh._wake();
	RETURN capture;
END $$;

-- The worker's move of a trigger-captured table to WAL (mesh.capture auto
-- or wal): only while its owner has made no choice with mesh.set_capture.
-- The lock on capture_choice orders it with a concurrent set_capture (whose
-- choice insert waits, or is seen here), so an owner's choice always wins.
CREATE FUNCTION mesh._auto_wal(source regclass) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	LOCK TABLE mesh.capture_choice IN SHARE ROW EXCLUSIVE MODE;
	IF EXISTS (SELECT 1 FROM mesh.capture_choice c WHERE c.source = _auto_wal.source)
		OR mesh.capture_of(source) IS DISTINCT FROM 'trigger' THEN
		RETURN false;
	END IF;
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', source);
	PERFORM mesh._require_wal(source);
	PERFORM mesh._remove_capture(source);
	PERFORM mesh._capture_from_wal(source);
	PERFORM mesh._wake();
	RETURN true;
END $$;
REVOKE ALL ON FUNCTION mesh._auto_wal(regclass) FROM PUBLIC;

-- Pause / resume a route: events keep being captured while it is paused.
CREATE FUNCTION mesh.pause(source regclass, target name) RETURNS boolean
	AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._pause(caller oid, source regclass, target name) RETURNS boolean
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$ SELECT mesh._set_paused(caller, source, target, true) $$;
CREATE FUNCTION mesh.resume(source regclass, target name) RETURNS boolean
	AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._resume(caller oid, source regclass, target name) RETURNS boolean
LANGUAGE sql SET search_path = pg_catalog, pg_temp
AS $$ SELECT NOT mesh._set_paused(caller, source, target, false) $$;

-- mesh.replay: deliver again every retained event of source with
-- id >= from_event to target (idempotent), then continue.
CREATE FUNCTION mesh.replay(source regclass, target name, from_event bigint DEFAULT 0)
RETURNS bigint AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._replay(caller oid, source regclass, target name, from_event bigint)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rid bigint;
	n bigint;
BEGIN
	PERFORM mesh._check_owner(caller, source, target);
	rid := mesh._route_of(source, target);
	-- nothing is visible in '1:1:', so every event still in the log with
	-- id >= from_event (done_low) is delivered again, in id order
	UPDATE mesh.route_cursor SET done_snap = '1:1:', done_low = GREATEST(from_event, 1),
		batch_snap = NULL, batch_next_low = NULL, batch_low = NULL, batch_high = NULL,
		batch_last_id = NULL, backfill_snap = NULL, epoch = epoch + 1
	WHERE route_id = rid AND backfilled;
	SELECT count(*) INTO n FROM mesh.event_log e WHERE e.source = _replay.source AND e.id >= from_event;
	PERFORM mesh._wake();
	RETURN n;
END $$;

-- mesh.retry_dead_letters: re-sync the keys of dead-lettered events from
-- the source's current rows (never an older value over a newer one).
-- Only the routes of tables the caller owns, to servers it may use.
CREATE FUNCTION mesh.retry_dead_letters(target name DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._retry_dead_letters(caller oid, target name)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	UPDATE mesh.dead_letter_store d SET retry = true
	FROM mesh.route r JOIN pg_class c ON c.oid = r.source
	WHERE d.route = r.id AND (_retry_dead_letters.target IS NULL OR r.target = _retry_dead_letters.target)
	  AND pg_has_role(caller, c.relowner, 'USAGE')
	  AND has_server_privilege(caller, r.target, 'USAGE');
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM mesh._wake();
	RETURN n;
END $$;

-- mesh.wait_for_sync: true once every active route of a table the caller
-- may SELECT (or every such route to target) has delivered every event committed before the call (false
-- after timeout_ms).
CREATE FUNCTION mesh.wait_for_sync(timeout_ms integer DEFAULT 30000, target name DEFAULT NULL)
RETURNS boolean
	AS 'MODULE_PATHNAME', 'mesh_wait_for_sync' LANGUAGE C VOLATILE;

-- Truncate event-log generations that every route delivered and that are
-- older than mesh.event_retention; returns how many.  The database worker
-- runs it every 10 seconds.
CREATE FUNCTION mesh.prune_event_log() RETURNS integer
	AS 'MODULE_PATHNAME', 'mesh_prune_event_log' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION mesh.prune_event_log() FROM PUBLIC;

CREATE FUNCTION mesh.verify(source regclass)
RETURNS TABLE(target name, source_rows bigint, target_rows bigint, missing bigint,
			  extra bigint, mismatched bigint, consistent boolean)
	AS 'MODULE_PATHNAME', 'mesh_verify' LANGUAGE C VOLATILE;

-- Views.  Readable by everyone for the tables they may read.
CREATE VIEW mesh.routes WITH (security_barrier) AS
	SELECT r.id, r.source, r.target,
		   COALESCE((SELECT substr(w.fdwname, 6) FROM pg_foreign_server s
					 JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
					 WHERE s.srvname = r.target AND w.fdwname LIKE 'mesh\_%'),
					'postgres') AS kind,
		   r.role, r.options, r.paused, c.backfilled, r.created_at
	FROM mesh.route r JOIN mesh.route_cursor c ON c.route_id = r.id
	WHERE has_table_privilege(r.source, 'SELECT');

-- Rows a route's first copy still has to write: exact for small tables,
-- the planner's estimate for large ones (runs with the reader's rights).
CREATE FUNCTION mesh._rows_to_copy(rel regclass) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	SELECT CASE WHEN c.reltuples >= 0 AND c.relpages > 128 THEN c.reltuples::bigint END
	INTO n FROM pg_class c WHERE c.oid = rel;
	IF n IS NULL THEN
		EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;
	END IF;
	RETURN n;
END $$;

-- The routes a delivery worker serves now: it holds their advisory lock
-- (class MESH_ROUTE_LOCK_CLASS, the route id; delivery_pool.c).
CREATE FUNCTION mesh._served_routes(OUT route_id bigint) RETURNS SETOF bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT l.objid::bigint FROM pg_locks l
	WHERE l.locktype = 'advisory' AND l.classid = 1835365224 AND l.objsubid = 2 AND l.granted
	  AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
$$;

-- Processes delivering for this database now (its worker and helpers).
CREATE FUNCTION mesh._delivery_workers() RETURNS integer
	AS 'MODULE_PATHNAME', 'mesh_delivery_workers_sql' LANGUAGE C STABLE;

-- A route's state, from its figures (see the README's "Route states").
CREATE FUNCTION mesh._route_state(paused boolean, backfilled boolean, backoff_until timestamptz,
								  pending bigint, served boolean, workers integer,
								  needs_resync text, last_error text,
								  OUT state text, OUT state_detail text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE
		WHEN paused THEN 'paused'
		WHEN needs_resync IS NOT NULL THEN 'needs resync'
		WHEN backoff_until > now() THEN 'backing off'
		WHEN served THEN CASE WHEN backfilled THEN 'delivering' ELSE 'backfilling' END
		WHEN NOT backfilled OR pending > 0 THEN 'waiting for a worker'
		ELSE 'idle' END,
		CASE
		WHEN paused THEN 'mesh.resume starts it again'
		WHEN needs_resync IS NOT NULL THEN needs_resync
		WHEN backoff_until > now() THEN 'the target failed: ' || COALESCE(last_error, 'no answer')
			|| '; next attempt at ' || backoff_until::text
		WHEN served THEN NULL
		WHEN (NOT backfilled OR pending > 0) AND workers = 0 THEN
			'no mesh worker runs in this database: raise max_worker_processes (mesh needs 1 for the launcher, 1 per database with mesh, up to mesh.max_delivery_workers helpers, 1 per subscription)'
		WHEN NOT backfilled OR pending > 0 THEN
			'all ' || workers || ' delivery workers of this database are serving other routes (helpers allowed in the cluster: mesh.max_delivery_workers = '
			|| current_setting('mesh.max_delivery_workers') || ')'
		END
$$;

CREATE VIEW mesh.stats WITH (security_barrier) AS
	SELECT r.source, r.target, r.role, s.delivered, s.failed,
		   (SELECT count(*) FROM mesh.dead_letter_store d WHERE d.route = r.id) AS dead,
		   p.pending,
		   CASE WHEN NOT c.backfilled THEN extract(epoch FROM now() - r.created_at)::double precision
				WHEN p.pending > 0 THEN extract(epoch FROM now() - p.oldest)::double precision
				ELSE 0 END AS lag_seconds,
		   s.last_error, s.last_delivered_at, r.paused, c.backfilled,
		   st.state, st.state_detail, s.backoff_until,
		   COALESCE(c.schema_error, c.needs_resync) IS NOT NULL AS needs_resync,
		   cap.capture, cap.capture_lag_bytes
	FROM mesh.route r
	JOIN mesh.route_stats s ON s.route_id = r.id
	JOIN mesh.route_cursor c ON c.route_id = r.id
	-- mesh._route_pending inline: a view's functions run with the reader's
	-- privileges, its tables with the view owner's.  Before its first copy
	-- ends, a route's pending events are the rows left to copy.
	CROSS JOIN LATERAL (
		SELECT CASE WHEN c.backfilled THEN count(*) ELSE mesh._rows_to_copy(r.source) END AS pending,
			   min(e.captured_at) AS oldest
		FROM mesh.event_log e
		WHERE c.backfilled AND e.source = r.source
		  AND e.id >= mesh._pending_from(c.done_low, c.batch_snap, c.batch_next_low, c.batch_last_id)
		  AND NOT pg_visible_in_snapshot(e.xid, c.done_snap)
		  AND NOT (c.batch_snap IS NOT NULL AND pg_visible_in_snapshot(e.xid, c.batch_snap)
				   AND e.id <= c.batch_last_id)) p
	LEFT JOIN mesh._served_routes() o ON o.route_id = r.id
	CROSS JOIN LATERAL mesh._route_state(r.paused, c.backfilled, s.backoff_until, p.pending,
										 o.route_id IS NOT NULL, mesh._delivery_workers(),
										 COALESCE(c.schema_error, c.needs_resync), s.last_error) st
	-- how the source is captured; for WAL, the WAL not yet decoded (bytes)
	CROSS JOIN LATERAL (
		SELECT t.capture,
			   CASE WHEN t.capture = 'wal' THEN
				(SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), sl.confirmed_flush_lsn)::bigint
				 FROM pg_replication_slots sl WHERE sl.slot_name = mesh._wal_slot()) END AS capture_lag_bytes
		FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = r.source
										 AND g.tgname = 'mesh_capture_insert')
					 THEN 'trigger' ELSE 'wal' END AS capture) t) cap
	WHERE has_table_privilege(r.source, 'SELECT');

CREATE VIEW mesh.event_log_status AS
	SELECT c.relname AS generation, pg_total_relation_size(c.oid) AS bytes,
		   greatest(c.reltuples, 0)::bigint AS approx_events
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'mesh' AND c.relname ~ '^event_log_[0-9]$';

-- Dead letters carry keys and error texts (row values): only for the
-- table's owner (and members of the owning role), with the full error; the
-- redacted form (public_error, src/redact.c) is what leaves the owner's view.
CREATE VIEW mesh.dead_letter WITH (security_barrier) AS
	SELECT d.route, d.event_id, r.source, r.target, d.op, d.key, d.error, d.attempts,
		   d.failed_at, d.retry AS retry_requested
	FROM mesh.dead_letter_store d JOIN mesh.route r ON r.id = d.route
	JOIN pg_class t ON t.oid = r.source
	WHERE pg_has_role(t.relowner, 'USAGE');

GRANT SELECT ON mesh.routes, mesh.stats, mesh.event_log_status, mesh.dead_letter TO PUBLIC;

-- The data catalog: which server holds each replicated table in which role.
CREATE VIEW mesh.catalog AS
	SELECT r.source::text AS dataset, current_database()::text AS "primary",
		   array_agg(r.target::text ORDER BY r.target) FILTER (WHERE r.role = 'replica') AS replicas,
		   array_agg(r.target::text ORDER BY r.target) FILTER (WHERE r.role = 'search') AS search,
		   array_agg(r.target::text ORDER BY r.target) FILTER (WHERE r.role = 'cache') AS cache,
		   array_agg(r.target::text ORDER BY r.target) FILTER (WHERE r.role = 'stream') AS stream
	FROM mesh.route r
	WHERE has_table_privilege(r.source, 'SELECT')
	GROUP BY r.source;
GRANT SELECT ON mesh.catalog TO PUBLIC;

-- The catalog as data_catalog.yaml, and routes declared from such a document.
-- catalog_yaml shows the tables the caller may SELECT; apply_catalog
-- changes routes of tables the caller owns (as mesh.replicate).
CREATE FUNCTION mesh.catalog_yaml() RETURNS text
	AS 'MODULE_PATHNAME', 'mesh_catalog_yaml' LANGUAGE C STABLE STRICT;
CREATE FUNCTION mesh.apply_catalog(doc text) RETURNS integer
	AS 'MODULE_PATHNAME', 'mesh_apply_catalog' LANGUAGE C VOLATILE STRICT;

-- One key asked of every replica of a table at once, next to the local row.
CREATE FUNCTION mesh.query_all(source regclass, key text)
RETURNS TABLE(server name, kind text, role text, found boolean, value jsonb,
			  latency_ms double precision, error text)
	AS 'MODULE_PATHNAME', 'mesh_query_all' LANGUAGE C VOLATILE STRICT;

-- A route's role is a label: changing it does not touch the replica.
CREATE FUNCTION mesh._set_role(caller oid, source regclass, target name, role text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM mesh._check_owner(caller, source, target);
	IF role IS NULL OR role NOT IN ('replica', 'cache', 'search', 'stream') THEN
		RAISE EXCEPTION 'invalid role "%"', role USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'Allowed values: replica, cache, search, stream.';
	END IF;
	UPDATE mesh.route r SET role = _set_role.role
	WHERE r.source = _set_role.source AND r.target = _set_role.target;
END $$;

-- Dropping a replicated table removes its routes.
CREATE FUNCTION mesh._on_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	gone oid;
BEGIN
	FOR gone IN DELETE FROM mesh.route r USING pg_event_trigger_dropped_objects() d
		WHERE d.classid = 'pg_class'::regclass AND d.objid = r.source::oid AND d.objsubid = 0
		RETURNING r.source::oid
	LOOP
		-- no WAL capture for an oid a later table may get (a no-op for trigger capture)
		PERFORM mesh._wal_register(gone, false);
		DELETE FROM mesh.capture_choice c WHERE c.source::oid = gone;
		PERFORM mesh._wake();
	END LOOP;
END $$;
CREATE EVENT TRIGGER mesh_on_drop ON sql_drop EXECUTE FUNCTION mesh._on_drop();

-- Schema changes of replicated tables (src/schema_change.c).  The columns
-- of a table as events carry them: [[attnum, name, type oid, type], ...].
CREATE FUNCTION mesh._columns(rel oid) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT COALESCE(jsonb_agg(jsonb_build_array(a.attnum, a.attname, a.atttypid::bigint,
												format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum), '[]')
	FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
$$;
-- The marker event of a schema change (op 'S'), in the current transaction.
CREATE FUNCTION mesh._write_marker(rel oid) RETURNS bigint
	AS 'MODULE_PATHNAME', 'mesh_write_marker' LANGUAGE C STRICT;
-- Whether this transaction rewrote rel (the table_rewrite trigger saw it).
CREATE FUNCTION mesh._was_rewritten(rel oid) RETURNS boolean
	AS 'MODULE_PATHNAME', 'mesh_was_rewritten' LANGUAGE C STRICT;
CREATE FUNCTION mesh._on_rewrite() RETURNS event_trigger
	AS 'MODULE_PATHNAME', 'mesh_on_rewrite' LANGUAGE C;
CREATE EVENT TRIGGER mesh_on_rewrite ON table_rewrite EXECUTE FUNCTION mesh._on_rewrite();

-- After an ALTER TABLE: compare a replicated table's columns with those its
-- events carried so far; on a difference (or a rewrite) write the marker
-- and the schema change.  resync when rows changed without capture seeing
-- them: a rewrite (ALTER COLUMN TYPE ... USING, a volatile default), a
-- column added with a default or under the name of an earlier one, a
-- rename (the values move to a new name).
CREATE FUNCTION mesh._schema_changed(rel oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	old jsonb;
	new jsonb := mesh._columns(rel);
	rewritten boolean := mesh._was_rewritten(rel);
	resync boolean := rewritten;
	reasons text[] := '{}';
	added text[] := '{}';
	c record;
BEGIN
	SELECT s.columns INTO old FROM mesh.source_columns s WHERE s.source = rel;
	IF old IS NULL OR (old = new AND NOT rewritten) THEN
		RETURN;
	END IF;
	FOR c IN
		SELECT COALESCE(n.a, o.a) AS attnum, o.name AS old_name, n.name AS new_name,
			   o.type AS old_type, n.type AS new_type
		FROM (SELECT (e->>0)::int AS a, e->>1 AS name, e->>3 AS type FROM jsonb_array_elements(new) e) n
		FULL JOIN (SELECT (e->>0)::int AS a, e->>1 AS name, e->>3 AS type FROM jsonb_array_elements(old) e) o
			ON o.a = n.a
		ORDER BY 1
	LOOP
		IF c.old_name IS NULL THEN
			added := added || c.new_name;
			IF (SELECT a.atthasmissing FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum = c.attnum) THEN
				resync := true;
				reasons := reasons || format('column %s added with a default', c.new_name);
			ELSIF EXISTS (SELECT 1 FROM mesh.schema_change h, jsonb_array_elements(h.before) e
						  WHERE h.source = rel AND e->>1 = c.new_name)
				  OR EXISTS (SELECT 1 FROM jsonb_array_elements(old) e WHERE e->>1 = c.new_name) THEN
				-- the replicas still hold the values of the earlier column of that name
				resync := true;
				reasons := reasons || format('column %s added in place of an earlier one', c.new_name);
			ELSE
				reasons := reasons || format('column %s added', c.new_name);
			END IF;
		ELSIF c.new_name IS NULL THEN
			reasons := reasons || format('column %s dropped', c.old_name);
		ELSE
			IF c.old_name <> c.new_name THEN
				resync := true;
				added := added || c.new_name;	-- a column the replicas lack
				reasons := reasons || format('column %s renamed to %s', c.old_name, c.new_name);
			END IF;
			IF c.old_type <> c.new_type THEN
				reasons := reasons || format('column %s changed from %s to %s', c.new_name, c.old_type, c.new_type);
			END IF;
		END IF;
	END LOOP;
	IF rewritten THEN
		reasons := reasons || 'the table was rewritten'::text;
	END IF;
	INSERT INTO mesh.schema_change (source, event_id, before, after, added, resync, reason)
		VALUES (rel, mesh._write_marker(rel), old, new, added, resync,
				format('ALTER TABLE %s: %s', rel::regclass, array_to_string(reasons, ', ')));
	UPDATE mesh.source_columns s SET columns = new WHERE s.source = rel;
END $$;

CREATE FUNCTION mesh._on_alter_table() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rel oid;
BEGIN
	FOR rel IN SELECT DISTINCT d.objid FROM pg_event_trigger_ddl_commands() d
			   JOIN mesh.source_columns s ON s.source = d.objid
			   WHERE d.classid = 'pg_class'::regclass
	LOOP
		PERFORM mesh._schema_changed(rel);
	END LOOP;
END $$;
CREATE EVENT TRIGGER mesh_on_alter_table ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION mesh._on_alter_table();

-- mesh.resync: copy source to target again in place (keyed, idempotent),
-- after every change captured before the call: what a route with
-- on_schema_change 'mark' needs after a schema change.  Writers wait for
-- the call's transaction (SHARE lock), so no change slips between.
CREATE FUNCTION mesh.resync(source regclass, target name) RETURNS bigint
	AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._resync(caller oid, source regclass, target name) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	marker bigint;
	cols jsonb;
BEGIN
	PERFORM mesh._check_owner(caller, source, target);
	PERFORM mesh._route_of(source, target);
	EXECUTE format('LOCK TABLE %s IN SHARE MODE', source);
	SELECT s.columns INTO cols FROM mesh.source_columns s WHERE s.source = _resync.source;
	cols := COALESCE(cols, mesh._columns(source));
	marker := mesh._write_marker(source);
	INSERT INTO mesh.schema_change (source, event_id, before, after, resync, reason, target)
		VALUES (source, marker, cols, cols, true, 'mesh.resync()', target);
	PERFORM mesh._wake();
	RETURN marker;
END $$;

-- DROP EXTENSION mesh / DROP SCHEMA mesh: refused while events are not
-- delivered, unless mesh.drop_discards_pending is on (src/drop_guard.c).
CREATE FUNCTION mesh._guard_drop() RETURNS event_trigger
	AS 'MODULE_PATHNAME', 'mesh_guard_drop' LANGUAGE C;
REVOKE ALL ON FUNCTION mesh._guard_drop() FROM PUBLIC;
CREATE EVENT TRIGGER mesh_guard_drop ON ddl_command_start
	WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA') EXECUTE FUNCTION mesh._guard_drop();

-- Tell the launcher a database has mesh now.
SELECT mesh._wake();
