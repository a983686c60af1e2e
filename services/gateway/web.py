"""The dashboard at /app and GraphiQL's assets, both served from the build in web/dist.

`make` builds web/ (npm ci, then Vite); nothing is fetched from a CDN at runtime, so the
dashboard and GraphiQL work where only the gateway is reachable.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from strawberry.http.ides import get_graphql_ide_html

from services.gateway.auth import SHARE_PREFIX, hash_key

MAX_SHARE_TOKEN = 100
WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
GRAPHIQL_ASSETS = "/app/graphiql/"

# strawberry's GraphiQL page names these files on unpkg; vendor-graphiql.mjs copies the same
# package versions into dist/graphiql under these names.
_CDN_FILES = {
    r"https://unpkg\.com/react@[^/]+/umd/react\.production\.min\.js": "react.production.min.js",
    r"https://unpkg\.com/react-dom@[^/]+/umd/react-dom\.production\.min\.js": (
        "react-dom.production.min.js"
    ),
    r"https://unpkg\.com/js-cookie@[^/]+/dist/js\.cookie\.min\.js": "js.cookie.min.js",
    r"https://unpkg\.com/graphiql@[^/]+/graphiql\.min\.css": "graphiql.min.css",
    r"https://unpkg\.com/graphiql@[^/]+/graphiql\.min\.js": "graphiql.min.js",
    r"https://unpkg\.com/@graphiql/plugin-explorer@[^/]+/dist/style\.css": "plugin-explorer.css",
    r"https://unpkg\.com/@graphiql/plugin-explorer@[^/]+/dist/index\.umd\.js": (
        "plugin-explorer.umd.js"
    ),
}
# GraphiQL signs in as the dashboard does: the tab's credential from sessionStorage (the
# dashboard's key name), asked for once when the tab has none, sent as X-API-Key (an API
# key) or a Bearer token, and in the WebSocket's connection_init for subscriptions. Headers
# are not persisted and GraphiQL's own state lives in sessionStorage too, so no credential
# outlives the tab in localStorage.
_SIGN_IN = (
    (
        "const defaultHeaders = {};",
        """let credential = sessionStorage.getItem("tandem.credential");
      if (!credential) {
        credential = (window.prompt(
          "Tandem API key or token (kept for this browser tab only)") || "").trim();
        if (credential) sessionStorage.setItem("tandem.credential", credential);
      }
      const defaultHeaders = !credential ? {} : credential.startsWith("tdm_")
        ? { "X-API-Key": credential } : { Authorization: "Bearer " + credential };""",
    ),
    (
        "subscriptionUrl,\n      });",
        "subscriptionUrl,\n        wsConnectionParams: credential ? { apiKey: credential } : {},"
        "\n      });",
    ),
    (
        "shouldPersistHeaders: true,",
        "shouldPersistHeaders: false,\n          storage: window.sessionStorage,",
    ),
)
# Subresource-integrity and CORS attributes only make sense for the CDN copies.
_CDN_ATTRIBUTES = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin)(?=[\s>/])')


@cache
def graphiql_html() -> str:
    """strawberry's GraphiQL page with every CDN URL pointing at the local copies, signing
    in as the dashboard does."""
    html = get_graphql_ide_html("graphiql")
    for original, replacement in _SIGN_IN:
        if html.count(original) != 1:
            raise RuntimeError(f"GraphiQL page no longer has {original!r}: update _SIGN_IN")
        html = html.replace(original, replacement)
    for pattern, name in _CDN_FILES.items():
        html, count = re.subn(pattern, GRAPHIQL_ASSETS + name, html)
        if count != 1:
            raise RuntimeError(f"GraphiQL page no longer loads {pattern}: update _CDN_FILES")
    if "unpkg.com" in html:
        raise RuntimeError("GraphiQL page loads an asset from unpkg that is not served locally")
    return _CDN_ATTRIBUTES.sub("", html)


class DashboardFiles(StaticFiles):
    """Hashed assets are cached for good; index.html is revalidated so a new build shows."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        immutable = path.startswith("assets/") and response.status_code == 200
        response.headers["cache-control"] = (
            "public, max-age=31536000, immutable" if immutable else "no-cache"
        )
        return response


async def _to_app(request: Request) -> Response:
    return RedirectResponse("/app/", 308)


async def _not_built(request: Request) -> Response:
    return PlainTextResponse(
        "The dashboard is not built: run `make web` (npm ci and vite build in web/).", 503
    )


def frame_ancestors(origins: list[str] | None) -> str:
    """The CSP of a shared page: framed only by the sites the tenant allows (none by
    default), so a link cannot be embedded anywhere its owner did not choose."""
    allowed = " ".join(origins) if origins else "'none'"
    return f"frame-ancestors {allowed}"


def share_page(dist: Path) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        """The dashboard for a share link: the same app, which reads the token from the
        path; the tenant's frame-ancestors apply. An unknown, revoked or expired token
        gets the page too (it says so), framed by no one."""
        token = request.path_params["token"]
        origins: list[str] | None = None
        if token.startswith(f"{SHARE_PREFIX}_") and len(token) <= MAX_SHARE_TOKEN:
            pool = request.app.state.ctx.pool
            origins = await pool.fetchval(
                "SELECT frame_ancestors FROM tandem_share_authenticate($1)", hash_key(token)
            )
        return HTMLResponse(
            (dist / "index.html").read_text(),
            headers={
                "content-security-policy": frame_ancestors(origins),
                "cache-control": "no-store",
                "referrer-policy": "no-referrer",
            },
        )

    return page


def web_routes(dist: Path = WEB_DIST) -> list[BaseRoute]:
    if not (dist / "index.html").is_file():
        return [Route("/app", _not_built), Route("/app/{path:path}", _not_built)]
    return [
        Route("/app", _to_app),
        Route("/app/share/{token}", share_page(dist)),
        Mount("/app", DashboardFiles(directory=dist, html=True)),
    ]
