-- Subscriptions (src/subscribe.c, src/subscribe_worker.c): a worker per
-- subscription consumes a topic of mesh envelopes from a stream source (a
-- server whose kind has the stream capability, MeshConnector.stream: Kafka
-- today) into a local table.
CREATE TABLE mesh.subscription (
	id bigserial PRIMARY KEY,
	server name NOT NULL,
	topic text NOT NULL,
	into_table regclass NOT NULL,
	group_id text NOT NULL,
	options jsonb NOT NULL DEFAULT '{}',
	owner oid NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	last_error text,
	last_error_at timestamptz,
	UNIQUE (server, topic, into_table)
);
-- The next offset to apply per partition, moved in the transaction that
-- applied the messages before it (so a restart neither skips nor re-applies).
CREATE TABLE mesh.subscription_offset (
	subscription bigint NOT NULL REFERENCES mesh.subscription ON DELETE CASCADE,
	partition integer NOT NULL,
	next_offset bigint NOT NULL,
	applied bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (subscription, partition)
);
-- Messages that could not be applied (malformed JSON, not an envelope, a
-- value the table refuses): the stream goes on past them.
CREATE TABLE mesh.subscription_error (
	subscription bigint NOT NULL REFERENCES mesh.subscription ON DELETE CASCADE,
	partition integer NOT NULL,
	"offset" bigint NOT NULL,
	key text,
	value text,
	error text NOT NULL,
	failed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (subscription, partition, "offset")
);
REVOKE ALL ON mesh.subscription, mesh.subscription_offset, mesh.subscription_error FROM PUBLIC;

-- A subscription is shown to whoever may SELECT its table; its errors
-- (message values: row data) only to the table's owner.

CREATE VIEW mesh.subscriptions WITH (security_barrier) AS
	SELECT s.id, s.server, s.topic, s.into_table, s.group_id, s.options,
		   (SELECT COALESCE(sum(o.applied), 0) FROM mesh.subscription_offset o
			WHERE o.subscription = s.id) AS applied,
		   (SELECT count(*) FROM mesh.subscription_error e WHERE e.subscription = s.id) AS errors,
		   s.last_error, s.last_error_at, s.created_at
	FROM mesh.subscription s
	WHERE has_table_privilege(s.into_table, 'SELECT');
CREATE VIEW mesh.subscription_errors WITH (security_barrier) AS
	SELECT s.server, s.topic, s.into_table, e.partition, e."offset", e.key, e.value,
		   e.error, e.failed_at
	FROM mesh.subscription_error e JOIN mesh.subscription s ON s.id = e.subscription
	JOIN pg_class t ON t.oid = s.into_table
	WHERE pg_has_role(t.relowner, 'USAGE');
GRANT SELECT ON mesh.subscriptions, mesh.subscription_errors TO PUBLIC;

-- mesh.subscribe: apply the envelopes of a stream's topic to a local table
-- (upsert by primary key for c/u/r, delete for d, truncate for t).
-- Options: group (consumer group, default mesh-<database>-<table>),
-- start ('earliest' (default) or 'latest': where a new group begins).
-- Needs ownership of the table and USAGE on the server; the worker writes
-- the table as the caller (src/privilege.c: mesh.X calls mesh._X).
CREATE FUNCTION mesh.subscribe(server name, topic text, "into" regclass,
							   options jsonb DEFAULT '{}')
RETURNS bigint AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._subscribe(caller oid, server name, topic text, "into" regclass,
								options jsonb)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	sub_id bigint;
	k text;
	opts jsonb := COALESCE(options, '{}');
BEGIN
	PERFORM mesh._check_owner(caller, "into", server);
	IF topic IS NULL THEN
		RAISE EXCEPTION 'the topic must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM mesh._check_stream(server, topic);
	IF (SELECT relkind FROM pg_class WHERE oid = "into") NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '"%" is not a table', "into" USING ERRCODE = 'wrong_object_type';
	END IF;
	IF mesh._primary_key("into") IS NULL THEN
		RAISE EXCEPTION 'table % has no primary key', "into"
			USING ERRCODE = 'invalid_table_definition',
				  HINT = 'Envelopes are applied by primary key: add one with ALTER TABLE ... ADD PRIMARY KEY.';
	END IF;
	IF jsonb_typeof(opts) <> 'object' THEN
		RAISE EXCEPTION 'subscription options must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR k IN SELECT jsonb_object_keys(opts) LOOP
		IF k NOT IN ('group', 'start') THEN
			RAISE EXCEPTION 'unknown subscription option "%"', k USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Valid options: group, start.';
		END IF;
	END LOOP;
	IF opts ? 'start' AND opts->>'start' NOT IN ('earliest', 'latest') THEN
		RAISE EXCEPTION 'invalid value "%" for subscription option "start"', opts->>'start'
			USING ERRCODE = 'invalid_parameter_value', DETAIL = 'Allowed values: earliest, latest.';
	END IF;
	IF opts ? 'group' AND COALESCE(opts->>'group', '') = '' THEN
		RAISE EXCEPTION 'subscription option "group" must be a non-empty string'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM mesh.subscription s WHERE s.server = _subscribe.server
			   AND s.topic = _subscribe.topic AND s.into_table = "into") THEN
		RAISE EXCEPTION 'table % already subscribes to topic "%" of "%"', "into", topic, server
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO mesh.subscription (server, topic, into_table, group_id, options, owner)
		VALUES (server, topic, "into",
				COALESCE(opts->>'group', format('mesh-%s-%s', current_database(), "into"::text)),
				opts, caller)
		RETURNING id INTO sub_id;
	PERFORM mesh._wake();
	RETURN sub_id;
END $$;

-- mesh.unsubscribe: stop consuming; the table keeps its rows, the consumer
-- group keeps its committed offsets.
CREATE FUNCTION mesh.unsubscribe(server name, topic text, "into" regclass)
RETURNS boolean AS 'MODULE_PATHNAME', 'mesh_api' LANGUAGE C;
CREATE FUNCTION mesh._unsubscribe(caller oid, server name, topic text, "into" regclass)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM mesh._check_owner(caller, "into", server);
	DELETE FROM mesh.subscription s WHERE s.server = _unsubscribe.server
		AND s.topic = _unsubscribe.topic AND s.into_table = "into";
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM mesh._wake();
	RETURN true;
END $$;

-- mesh._check_stream(server, topic): an error unless the server is a stream
-- source and the topic a valid name there (src/subscribe.c).
CREATE FUNCTION mesh._check_stream(server name, topic text) RETURNS void
	AS 'MODULE_PATHNAME', 'mesh_check_stream' LANGUAGE C STRICT;

-- mesh.wait_for_subscription: true once every subscription into the table
-- (which the caller may SELECT)
-- has applied (or dead-lettered) every message below the high watermarks
-- its topic had at the call.
CREATE FUNCTION mesh.wait_for_subscription("into" regclass, timeout_ms integer DEFAULT 30000)
RETURNS boolean
	AS 'MODULE_PATHNAME', 'mesh_wait_for_subscription' LANGUAGE C VOLATILE;
