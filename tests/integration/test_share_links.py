"""Share links through the API: admins make, list and revoke them; the token is shown once,
kept only as a hash, reads as a viewer of its own tenant and writes nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from tests.integration.conftest import Platform
from tests.integration.test_graphql_api import codes, data_of, errors_of

CREATE = """mutation ($pages: [SharePage!]!, $expiresAt: DateTime!) {
  createShareLink(pages: $pages, expiresAt: $expiresAt) { url link { id pages expiresAt active } }
}"""
LATER = "2026-12-20T00:00:00Z"  # the pinned clock is 2026-11-20


async def test_a_share_link_reads_its_tenant_read_only_until_revoked(platform: Platform) -> None:
    tenant, admin = await platform.create_tenant("share")
    viewer = await platform.api_key(tenant, "viewer")
    made = (await data_of(platform, admin, CREATE, {"pages": ["OVERVIEW"], "expiresAt": LATER}))[
        "createShareLink"
    ]
    token = made["url"].removeprefix("/app/share/")
    link_id = made["link"]["id"]
    assert made["link"] == {
        "id": link_id,
        "pages": ["OVERVIEW"],
        "expiresAt": made["link"]["expiresAt"],
        "active": True,
    }
    assert datetime.fromisoformat(made["link"]["expiresAt"]) == datetime(2026, 12, 20, tzinfo=UTC)
    stored = await platform.admin.fetchrow(
        "SELECT * FROM share_links WHERE tenant_id = $1 AND link_id = $2", tenant, link_id
    )
    assert stored["token_hash"] == hashlib.sha256(token.encode()).digest()
    assert token not in str(dict(stored))

    shared = await data_of(platform, token, "{ viewer { tenant role } sharedView { pages } }")
    assert shared == {
        "viewer": {"tenant": tenant, "role": "VIEWER"},
        "sharedView": {"pages": ["OVERVIEW"]},
    }
    assert codes(
        await errors_of(platform, token, CREATE, {"pages": ["SLA"], "expiresAt": LATER})
    ) == {"FORBIDDEN"}
    assert codes(await errors_of(platform, token, "{ shareLinks { id } }")) == {"FORBIDDEN"}
    # It reads what its pages show, and nothing else (the Overview shows no lead).
    assert "pipeline" in await data_of(platform, token, "{ pipeline { total } }")
    lead_read = await errors_of(platform, token, '{ lead(id: "L-1") { id traits } }')
    assert codes(lead_read) == {"FORBIDDEN"}
    assert lead_read[0]["message"] == "this share link does not show that page"
    assert codes(
        await errors_of(platform, viewer, CREATE, {"pages": ["SLA"], "expiresAt": LATER})
    ) == {"FORBIDDEN"}
    past = await errors_of(
        platform, admin, CREATE, {"pages": ["SLA"], "expiresAt": "2026-11-01T00:00:00Z"}
    )
    assert codes(past) == {"BAD_USER_INPUT"}
    assert codes(await errors_of(platform, admin, CREATE, {"pages": [], "expiresAt": LATER})) == {
        "BAD_USER_INPUT"
    }
    bad_site = await errors_of(
        platform,
        admin,
        'mutation { updateShareSettings(frameAncestors: ["javascript:1"]) { frameAncestors } }',
    )
    assert codes(bad_site) == {"BAD_USER_INPUT"}

    # Another tenant's admin neither sees nor revokes it.
    _, other = await platform.create_tenant("share-other")
    assert (await data_of(platform, other, "{ shareLinks { id } }"))["shareLinks"] == []
    revoke = "mutation ($id: ID!) { revokeShareLink(id: $id) { active } }"
    assert codes(await errors_of(platform, other, revoke, {"id": link_id})) == {"NOT_FOUND"}

    assert (await data_of(platform, admin, revoke, {"id": link_id}))["revokeShareLink"] == {
        "active": False
    }
    assert codes(await errors_of(platform, token, "{ viewer { tenant } }")) == {"UNAUTHENTICATED"}
