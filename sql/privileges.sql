
-- The end of the install script (after every fdw/<kind>/<kind>.sql):
-- mesh's internal functions (mesh._*) are closed to PUBLIC, whichever file
-- declared them.  They are called by mesh's own code as mesh's owner; the
-- public API functions do the caller's privilege checks.
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
			 WHERE p.pronamespace = 'mesh'::regnamespace AND p.proname LIKE '\_%'
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END $$;
-- ... except the helpers mesh.stats calls with its reader's rights: they
-- show nothing the reader could not see (the count runs as the reader).
GRANT EXECUTE ON FUNCTION mesh._rows_to_copy(regclass), mesh._delivery_workers(), mesh._served_routes(),
	mesh._wal_slot(),
	mesh._pending_from(bigint, pg_snapshot, bigint, bigint),
	mesh._route_state(boolean, boolean, timestamptz, bigint, boolean, integer, text, text) TO PUBLIC;
