-- Content items get the version history messages have (SPEC 8): the item carries the number
-- of its current version, and every write appends the item as it left it, with author and
-- time, to content_versions.

ALTER TABLE content_items ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE content_items ALTER COLUMN version DROP DEFAULT;

CREATE TABLE content_versions (
    tenant_id      text NOT NULL,
    content_id     text NOT NULL,
    version        integer NOT NULL,
    title          text NOT NULL,
    url            text NOT NULL,
    funnel_stage   text NOT NULL,
    format         text NOT NULL,
    topics         text[] NOT NULL,
    objections     text[] NOT NULL,
    message_ids    text[] NOT NULL,
    status         text NOT NULL,
    author         text NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, content_id, version)
);

-- Existing items start their history at version 1: as they are now, by their last author,
-- at their last write (the migration role bypasses row-level security).
INSERT INTO content_versions (tenant_id, content_id, version, title, url, funnel_stage, format,
                              topics, objections, message_ids, status, author, created_at)
SELECT tenant_id, content_id, 1, title, url, funnel_stage, format,
       topics, objections, message_ids, status, author, updated_at
FROM content_items;

SELECT tandem_protect('content_versions');
