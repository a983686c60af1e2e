-- The application role may read which migrations are applied: a gateway or worker of a new
-- release waits (`tandem wait-schema`, the Deployments' init container) until the migrate
-- Job of its release has brought the schema to the version it ships, without the owner's
-- credentials.
GRANT SELECT ON schema_migrations TO tandem_app;
