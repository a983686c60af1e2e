-- Functions that run as their owner (SECURITY DEFINER) resolve names in pg_catalog, then
-- public, and in the session's temporary schema last: a caller's temporary table or
-- function of the same name can never stand in for the real one.
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc p
        WHERE p.prosecdef AND p.pronamespace = 'public'::regnamespace
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', f);
    END LOOP;
END $$;
