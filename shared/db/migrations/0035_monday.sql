-- Monday.com: a tenant's board kept current with the shared numbers and the weekly
-- review's action items, both ways. The API token is the connector's secret
-- (connector_settings, connector 'monday'), stored with the other connector secrets.

ALTER TABLE connector_settings DROP CONSTRAINT connector_settings_connector_check;
ALTER TABLE connector_settings ADD CONSTRAINT connector_settings_connector_check
    CHECK (connector IN ('segment', 'hubspot', 'salesforce', 'monday'));

-- The board, and where Tandem's groups and columns are on it (layout: {"groups": {title:
-- id}, "columns": {Tandem's column id: the board's}}) and its status webhook, so a restart
-- neither creates them twice nor loses them. signing_secret verifies the board webhook's JWT.
CREATE TABLE monday_boards (
    tenant_id       text PRIMARY KEY REFERENCES tenants,
    board_id        text NOT NULL CHECK (board_id ~ '^[0-9]{1,20}$'),
    signing_secret  text,
    layout          jsonb NOT NULL DEFAULT '{}'::jsonb,
    webhook_id      text,
    -- The board the groups, columns and webhook were made on: a new board id sets up anew.
    set_up_for      text,
    last_sent_at    timestamptz,
    last_error      text,
    -- One delivery process writes a board at a time: it holds the lease until then.
    lease_holder    text,
    lease_until     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per item Tandem keeps on the board: a figure or an action item (item_key), its
-- Monday.com item id, and the column values last sent, so only changes are sent again and
-- a status changed on the board is not written back as a change of Tandem's.
CREATE TABLE monday_items (
    tenant_id  text NOT NULL REFERENCES tenants,
    board_id   text NOT NULL,
    item_key   text NOT NULL,
    item_id    text NOT NULL,
    sent       jsonb NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, board_id, item_key)
);
CREATE UNIQUE INDEX monday_items_item ON monday_items (tenant_id, board_id, item_id);

SELECT tandem_protect(t) FROM unnest(ARRAY['monday_boards', 'monday_items']::regclass[]) AS t;

-- Which tenants have a board to keep (never a row's content): the delivery service's list.
CREATE FUNCTION tandem_monday_tenants()
RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT b.tenant_id FROM monday_boards b
    JOIN connector_settings c ON c.tenant_id = b.tenant_id AND c.connector = 'monday'
    WHERE c.enabled AND c.secret IS NOT NULL
$$;

GRANT EXECUTE ON FUNCTION tandem_monday_tenants() TO tandem_app;
