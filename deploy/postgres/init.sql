-- Roles and database of Tandem. Run by a superuser through psql (it uses psql variables,
-- \gexec and \connect), any number of times: every statement is idempotent.
--   local stack:  deploy/local/stack.sh runs it on each `up`
--   Docker:       mounted into /docker-entrypoint-initdb.d of the postgres image
--   elsewhere:    psql -v owner_password=... -v app_password=... -f deploy/postgres/init.sql
--
-- Two roles, because row-level security is only as strong as the role it binds:
--   tandem_owner  owns the schema; used by migrations and as the owner of the few
--                 SECURITY DEFINER functions that must see across tenants. BYPASSRLS.
--   tandem_app    what the gateway and the workers connect as. NOBYPASSRLS and owns no
--                 table, so every policy applies to it (owners skip non-forced policies).
\set ON_ERROR_STOP on

-- The defaults are the published dev passwords; deployments pass their own with -v.
\if :{?owner_password}
\else
  \set owner_password tandem_owner
\endif
\if :{?app_password}
\else
  \set app_password tandem_app
\endif

SELECT 'CREATE ROLE tandem_owner'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tandem_owner') \gexec
SELECT 'CREATE ROLE tandem_app'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tandem_app') \gexec

-- Attributes are (re)asserted on every run so a hand-edited role drifts back to the contract.
ALTER ROLE tandem_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  BYPASSRLS PASSWORD :'owner_password';
ALTER ROLE tandem_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  NOBYPASSRLS PASSWORD :'app_password';

SELECT 'CREATE DATABASE tandem OWNER tandem_owner'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'tandem') \gexec
-- The Docker image creates the database itself (POSTGRES_DB), owned by the superuser.
ALTER DATABASE tandem OWNER TO tandem_owner;
REVOKE ALL ON DATABASE tandem FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE tandem TO tandem_app;

\connect tandem

-- PostgreSQL 15 no longer grants CREATE on public to everyone; the migrations create
-- their objects as tandem_owner, so it owns the schema. Table rights for tandem_app are
-- granted by the migrations, table by table.
ALTER SCHEMA public OWNER TO tandem_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO tandem_app;

-- Statement statistics, for profiling the database's share of the work
-- (`python -m bench.cpu_per_event` prints them): the view answers only where the server
-- preloads the module (the local stack does). In a schema of its own, away from the
-- tables every tenant's rows live in; reading every role's statements takes
-- pg_read_all_stats.
CREATE SCHEMA IF NOT EXISTS stats AUTHORIZATION tandem_owner;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA stats;
GRANT pg_read_all_stats TO tandem_owner;
