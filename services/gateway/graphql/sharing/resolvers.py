"""Share links (admin): `createShareLink` returns the link's URL once, `shareLinks` lists
them, `revokeShareLink` stops one (its open live views close within the credential
re-check, RECHECK_INTERVAL_S). The token is stored as its SHA-256 only. `sharedView` tells
a shared page which pages its link names; `shareSettings` / `updateShareSettings` hold the
sites allowed to frame shared pages (CSP frame-ancestors)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import strawberry

from services.gateway.auth import SHARE_PREFIX, hash_key
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input, not_found
from services.gateway.graphql.core.inputs import new_id
from services.gateway.graphql.core.permissions import admin_field, admin_mutation, read_field
from services.gateway.graphql.core.rows import from_row

MAX_LIFETIME = timedelta(days=366)
MAX_LINKS = 200
MAX_ANCESTORS = 20
# An origin a page may be framed by: scheme, host (a leading wildcard label allowed), port.
ORIGIN = re.compile(r"^https?://(\*\.)?[a-z0-9.-]+(:[0-9]{1,5})?$")
SHARE_PATH = "/app/share/"


@strawberry.enum(description="A dashboard page a share link can show")
class SharePage(Enum):
    OVERVIEW = "OVERVIEW"
    PIPELINE = "PIPELINE"
    ACCOUNTS = "ACCOUNTS"
    ATTRIBUTION = "ATTRIBUTION"
    SLA = "SLA"
    REVIEW = "REVIEW"
    CONTENT = "CONTENT"


@strawberry.type(description="A link that shows chosen pages read-only, without signing in")
class ShareLink:
    id: strawberry.ID
    pages: list[SharePage]
    expires_at: datetime
    created_by: str
    created_at: datetime
    revoked_at: datetime | None

    @strawberry.field(description="neither revoked nor expired")
    def active(self, info: Info) -> bool:
        return self.revoked_at is None and self.expires_at > info.context.now()


@strawberry.type(description="A new share link and its address, shown this once")
class NewShareLink:
    link: ShareLink
    url: str = strawberry.field(description="/app/share/<token>; the token is not kept")


@strawberry.type(description="What the shared view of a share link shows")
class SharedView:
    pages: list[SharePage]
    expires_at: datetime


@strawberry.type(description="Sites that may show shared pages in a frame")
class ShareSettings:
    frame_ancestors: list[str] = strawberry.field(
        description="origins allowed by CSP frame-ancestors; empty: no site may frame them"
    )


_COLUMNS = "link_id, pages, expires_at, created_by, created_at, revoked_at"


def _link(row: Any) -> ShareLink:
    link = from_row(ShareLink, row, id_column="link_id")
    link.pages = [SharePage(p) for p in link.pages]
    return link


def origin_problem(origin: str) -> str | None:
    if origin == "'self'" or ORIGIN.match(origin):
        return None
    return "an origin like https://example.com (or 'self')"


@strawberry.type
class ShareQueries:
    @admin_field("Every share link of the tenant, newest first")
    async def share_links(self, info: Info) -> list[ShareLink]:
        rows = await info.context.scope.fetch(
            f"SELECT {_COLUMNS} FROM share_links WHERE tenant_id = $1"
            " ORDER BY created_at DESC, link_id LIMIT $2",
            MAX_LINKS,
        )
        return [_link(r) for r in rows]

    @admin_field("The sites allowed to frame shared pages")
    async def share_settings(self, info: Info) -> ShareSettings:
        ancestors = await info.context.scope.fetchval(
            "SELECT frame_ancestors FROM share_settings WHERE tenant_id = $1"
        )
        return ShareSettings(frame_ancestors=list(ancestors or []))

    @read_field("For a share link's credential, the pages it shows; null for any other")
    async def shared_view(self, info: Info) -> SharedView | None:
        principal = info.context.principal
        if principal is None or not principal.subject.startswith("share:"):
            return None
        row = await info.context.scope.fetchrow(
            "SELECT pages, expires_at FROM share_links WHERE tenant_id = $1 AND link_id = $2",
            principal.subject.removeprefix("share:"),
        )
        if row is None:
            return None
        return SharedView(pages=[SharePage(p) for p in row["pages"]], expires_at=row["expires_at"])


@strawberry.type
class ShareMutations:
    @admin_mutation("A link showing `pages` read-only and live until `expiresAt`")
    async def create_share_link(
        self, info: Info, pages: list[SharePage], expires_at: datetime
    ) -> NewShareLink:
        now = info.context.now()
        problems = []
        if not pages:
            problems.append(("pages", "name at least one page"))
        if expires_at.tzinfo is None:
            problems.append(("expiresAt", "a time with its zone, e.g. 2026-12-31T00:00:00Z"))
        elif not now < expires_at <= now + MAX_LIFETIME:
            problems.append(("expiresAt", "in the future, at most a year away"))
        if problems:
            raise bad_input("the share link cannot be made", problems)
        principal = info.context.principal
        assert principal is not None
        token = f"{SHARE_PREFIX}_{secrets.token_urlsafe(32)}"
        link_id = new_id("share")
        row = await info.context.scope.fetchrow(
            "INSERT INTO share_links (tenant_id, link_id, token_hash, pages, expires_at,"
            f" created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}",
            link_id,
            hash_key(token),
            list(dict.fromkeys(p.value for p in pages)),
            expires_at,
            principal.subject,
        )
        return NewShareLink(link=_link(row), url=f"{SHARE_PATH}{token}")

    @admin_mutation("Stops a share link at once; its open views close within seconds")
    async def revoke_share_link(self, info: Info, id: strawberry.ID) -> ShareLink:
        row = await info.context.scope.fetchrow(
            "UPDATE share_links SET revoked_at = coalesce(revoked_at, now())"
            f" WHERE tenant_id = $1 AND link_id = $2 RETURNING {_COLUMNS}",
            str(id),
        )
        if row is None:
            raise not_found("share link", str(id))
        return _link(row)

    @admin_mutation("The sites allowed to frame shared pages (replaces the list)")
    async def update_share_settings(self, info: Info, frame_ancestors: list[str]) -> ShareSettings:
        problems = [
            (f"frameAncestors.{n}", problem)
            for n, origin in enumerate(frame_ancestors)
            if (problem := origin_problem(origin)) is not None
        ]
        if len(frame_ancestors) > MAX_ANCESTORS:
            problems.append(("frameAncestors", f"at most {MAX_ANCESTORS} origins"))
        if problems:
            raise bad_input("these sites cannot be allowed", problems)
        principal = info.context.principal
        assert principal is not None
        await info.context.scope.fetchval(
            "INSERT INTO share_settings (tenant_id, frame_ancestors, updated_by)"
            " VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE"
            " SET frame_ancestors = EXCLUDED.frame_ancestors,"
            " updated_by = EXCLUDED.updated_by, updated_at = now()",
            list(dict.fromkeys(frame_ancestors)),
            principal.subject,
        )
        return ShareSettings(frame_ancestors=list(dict.fromkeys(frame_ancestors)))
