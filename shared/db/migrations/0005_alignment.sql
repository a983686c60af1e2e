-- The alignment workflows of SPEC 8: the messaging library, the content catalog and the
-- weekly review's action items. Written through the GraphQL API, never by the workers.

-- A message's current state; every write also appends its full text to message_versions,
-- so the history survives later edits.
CREATE TABLE messages (
    tenant_id     text NOT NULL,
    message_id    text NOT NULL,
    kind          text NOT NULL,
    text          text NOT NULL,
    personas      text[] NOT NULL DEFAULT '{}',
    stages        text[] NOT NULL DEFAULT '{}',
    segments      text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL CHECK (status IN ('DRAFT', 'APPROVED', 'RETIRED')),
    version       integer NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX messages_status ON messages (tenant_id, status, message_id);

CREATE TABLE message_versions (
    tenant_id     text NOT NULL,
    message_id    text NOT NULL,
    version       integer NOT NULL,
    kind          text NOT NULL,
    text          text NOT NULL,
    personas      text[] NOT NULL,
    stages        text[] NOT NULL,
    segments      text[] NOT NULL,
    status        text NOT NULL,
    author        text NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, message_id, version)
);

CREATE TABLE content_items (
    tenant_id      text NOT NULL,
    content_id     text NOT NULL,
    title          text NOT NULL,
    url            text NOT NULL,
    funnel_stage   text NOT NULL CHECK (funnel_stage IN ('TOFU', 'MOFU', 'BOFU')),
    format         text NOT NULL,
    topics         text[] NOT NULL DEFAULT '{}',
    objections     text[] NOT NULL DEFAULT '{}',
    message_ids    text[] NOT NULL DEFAULT '{}',
    status         text NOT NULL CHECK (status IN ('DRAFT', 'APPROVED', 'RETIRED')),
    author         text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, content_id)
);
CREATE INDEX content_items_status ON content_items (tenant_id, status, content_id);

CREATE TABLE action_items (
    tenant_id      text NOT NULL,
    action_item_id text NOT NULL,
    title          text NOT NULL,
    owner          text NOT NULL,
    team           text NOT NULL CHECK (team IN ('SALES', 'MARKETING', 'BOTH')),
    due_date       date,
    status         text NOT NULL CHECK (status IN ('OPEN', 'IN_PROGRESS', 'DONE', 'DROPPED')),
    week_start     date NOT NULL CHECK (extract(isodow FROM week_start) = 1),
    author         text NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, action_item_id)
);
CREATE INDEX action_items_week ON action_items (tenant_id, week_start, action_item_id);

-- What influence and the review read: a lead's events that reference a content item or a
-- message (envelope ids, or content_shared's properties.content_id).
CREATE INDEX events_content ON events (tenant_id, content_id) WHERE content_id IS NOT NULL;
CREATE INDEX events_message ON events (tenant_id, message_id) WHERE message_id IS NOT NULL;

SELECT tandem_protect(t) FROM unnest(ARRAY[
    'messages', 'message_versions', 'content_items', 'action_items'
]::regclass[]) AS t;
