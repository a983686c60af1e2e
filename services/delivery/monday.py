"""Monday.com sync: the tenant's board kept current where the teams work.

- Group `Shared numbers`: one item per figure (lead volume this week and last week, the
  three conversion rates, leads per pipeline stage, marketing-sourced and -influenced
  revenue), with the columns Value, Previous period, Change and Updated at. Group `Action
  items`: the weekly review's action items (title, owner, team, due date, status); a status
  changed on the board comes back through the board's webhook (the gateway's
  /v1/connectors/monday/{tenant}).
- Per board, at most one round of changes a minute (`min_interval_s`): a round computes every
  item's column values, compares them with what the board was last sent (`monday_items`),
  and sends only the changed ones, batched as aliased `create_item` /
  `change_multiple_column_values` mutations in a few requests. A change is on the board
  within the minute: a board that sent a round less than a minute ago waits exactly until
  its minute is over, then sends.
- Monday.com's limits: a 429 waits its `Retry-After`; `COMPLEXITY_BUDGET_EXHAUSTED` waits its
  `retry_in_seconds`; and each request reads `complexity { after reset_in_x_seconds }`, so a
  budget about to run out waits for its reset instead of earning the error. Every wait is
  the board's own task's: each tenant's board syncs in its own task, so a failing or
  throttled board never holds up another tenant's.
- Setup, once per board: the two groups and Tandem's columns are found by title or created,
  a webhook on status changes is created, and their ids stored (`monday_boards.layout`).
- Order of effects in a round: requests to Monday.com first, then `monday_items` written per
  batch with what the board acknowledged; a batch lost before its write is sent again the
  next round (its changes still differ), so an item may be updated twice but never missed.
  An item the board failed to create is not recorded and is created on a later round.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import asyncpg
import httpx
import orjson

from services.delivery.settings import DeliverySettings
from shared.connector_settings import read_settings
from shared.db import tenant_tx
from shared.domain.wins import TopCampaign
from shared.metrics_store import period_metrics
from shared.monday import (
    ACTION_ITEMS,
    COLUMNS,
    GROUPS,
    SHARED_NUMBERS,
    STATUS_COLUMN,
    STATUS_LABELS,
    TEAM_LABELS,
)
from shared.wins_store import top_campaign

log = logging.getLogger("tandem.delivery.monday")

STAGE_NAMES = {
    "AWARE": "Aware",
    "ENGAGED": "Engaged",
    "MQL": "Marketing qualified",
    "SQL": "Sales qualified",
    "OPPORTUNITY": "Opportunity",
    "CUSTOMER": "Customer",
    "NURTURE": "Nurture",
    "DISQUALIFIED": "Disqualified",
    "CLOSED_LOST": "Closed lost",
}

BATCH = 20  # mutations per request
TIMEOUT_S = 30.0
MAX_WAIT_S = 120.0
# Below this much budget left, wait for its reset rather than earn COMPLEXITY_BUDGET_EXHAUSTED.
LOW_BUDGET = 100_000
MAX_TRIES = 8  # a request throttled this many times in a row waits for the next round
# A board whose round failed (a refused token, a deleted board) is tried again after this
# long, doubling up to FAILED_MAX_S: its own pause, no one else's.
FAILED_FIRST_S = 2.0
FAILED_MAX_S = 300.0
WEBHOOK_RETRY_S = 600.0  # a board without its status webhook asks again this often
ACTION_ITEM_WEEKS = 8
MAX_ACTION_ITEMS = 500
# How long a board's lease lasts; renewed before every request of a round, so only a
# process that died leaves a board waiting, this long.
LEASE_S = 300.0

Kind = Literal["count", "rate", "money"]


class Throttled(Exception):
    def __init__(self, wait_s: float, why: str) -> None:
        super().__init__(f"{why}; retry in {wait_s:g} s")
        self.wait_s = wait_s


class MondayError(Exception):
    """A request Monday.com answered with errors for the whole request."""


# --- what the board shows (pure) -------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str
    name: str
    kind: Kind
    value: float | None
    previous: float | None


def _number(kind: Kind, value: float | None) -> str:
    if value is None:
        return ""
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "money":
        return f"{value:,.0f}"
    return f"{value:,.0f}"


def change_text(kind: Kind, value: float | None, previous: float | None) -> str:
    """The change against the previous period in plain words: points for a rate, the
    difference and its percentage otherwise; empty when either side is unknown."""
    if value is None or previous is None:
        return ""
    if kind == "rate":
        return f"{(value - previous) * 100:+.1f} pts"
    diff = value - previous
    text = f"{diff:+,.0f}"
    if previous:
        text += f" ({diff / previous * 100:+.1f}%)"
    return text


def figure_columns(figure: Figure) -> dict[str, Any]:
    """A figure's column values, without the time (added only when they change)."""
    return {
        "tandem_value": _number(figure.kind, figure.value),
        "tandem_previous": _number(figure.kind, figure.previous),
        "tandem_change": change_text(figure.kind, figure.value, figure.previous),
    }


def action_item_columns(row: Mapping[str, Any]) -> dict[str, Any]:
    due: date | None = row["due_date"]
    return {
        "name": row["title"],
        "tandem_owner": row["owner"],
        "tandem_team": TEAM_LABELS[row["team"]],
        "tandem_due": {"date": due.isoformat()} if due else {},
        STATUS_COLUMN: {"label": STATUS_LABELS[row["status"]]},
    }


def week_start(now: datetime) -> datetime:
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=midnight.weekday())


def figures_of(
    weeks: Sequence[Mapping[str, Any]],
    stages: Mapping[str, int],
    sourced: Sequence[float],
    influenced: Sequence[float],
) -> list[Figure]:
    """The figures from the metrics of this week so far, last week and the week before
    (`weeks`, in that order), the leads per stage now, and the marketing-sourced and
    -influenced revenue of this week and last week."""
    this, last, before = weeks
    out = [
        Figure(
            "leads_this_week",
            "Lead volume, this week",
            "count",
            this["leads_created"],
            last["leads_created"],
        ),
        Figure(
            "leads_last_week",
            "Lead volume, last week",
            "count",
            last["leads_created"],
            before["leads_created"],
        ),
        Figure(
            "mql_to_sql",
            "MQL to SQL rate",
            "rate",
            this["mql_to_sql_rate"],
            last["mql_to_sql_rate"],
        ),
        Figure(
            "lead_to_opportunity",
            "Lead to opportunity rate",
            "rate",
            this["lead_to_opportunity_rate"],
            last["lead_to_opportunity_rate"],
        ),
        Figure(
            "opportunity_to_customer",
            "Opportunity to customer rate",
            "rate",
            this["opportunity_to_customer_rate"],
            last["opportunity_to_customer_rate"],
        ),
    ]
    out.append(
        Figure("deals_won", "Deals won, this week", "count", this["deals_won"], last["deals_won"])
    )
    for stage, name in STAGE_NAMES.items():
        out.append(
            Figure(f"stage_{stage}", f"Leads at stage: {name}", "count", stages.get(stage, 0), None)
        )
    out.append(Figure("sourced", "Marketing-sourced revenue", "money", sourced[0], sourced[1]))
    out.append(
        Figure("influenced", "Marketing-influenced revenue", "money", influenced[0], influenced[1])
    )
    return out


@dataclass(frozen=True)
class Wanted:
    """An item as the board should show it."""

    key: str
    group: str
    name: str
    columns: dict[str, Any]


def top_campaign_item(this: TopCampaign | None, last: TopCampaign | None) -> Wanted:
    """A win to celebrate on the board: the campaign that sourced the most pipeline."""

    def named(top: TopCampaign | None) -> str:
        return "" if top is None else f"{top.campaign_id} ({_number('money', top.pipeline)})"

    return Wanted(
        "top_campaign",
        SHARED_NUMBERS,
        "Campaign that sourced the most pipeline, this week",
        {"tandem_value": named(this), "tandem_previous": named(last), "tandem_change": ""},
    )


@dataclass(frozen=True)
class Op:
    wanted: Wanted
    item_id: str | None  # None: to create
    send: dict[str, Any]  # the column values to send (JSON-encoded on the wire)


def plan(
    wanted: Sequence[Wanted], sent: Mapping[str, tuple[str, dict[str, Any]]], stamp: str
) -> list[Op]:
    """What to send: a new item whole, a known one only its changed columns; a figure's
    `Updated at` is stamped only when its numbers change. `sent` maps keys to (item id,
    columns last sent)."""
    ops: list[Op] = []
    for item in wanted:
        known = sent.get(item.key)
        columns = dict(item.columns)
        if item.group == SHARED_NUMBERS:
            columns.pop("name", None)
        if known is None:
            send = {k: v for k, v in columns.items() if k != "name"}
            if item.group == SHARED_NUMBERS:
                send["tandem_updated"] = stamp
            ops.append(Op(item, None, send))
            continue
        item_id, previous = known
        delta = {k: v for k, v in columns.items() if previous.get(k) != v}
        if not delta:
            continue
        if item.group == SHARED_NUMBERS:
            delta["tandem_updated"] = stamp
        ops.append(Op(item, item_id, delta))
    return ops


# --- Monday.com's API -------------------------------------------------------------------


@dataclass
class Budget:
    after: int | None = None
    reset_in_s: float = 0.0

    def wait_s(self) -> float:
        """How long to wait before the next request: until the reset when little is left."""
        if self.after is not None and self.after < LOW_BUDGET:
            return min(MAX_WAIT_S, self.reset_in_s)
        return 0.0


class MondayApi:
    """`POST {base}/v2` with `{query, variables}` and the token in `Authorization`."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, token: str) -> None:
        self._client, self._url, self._token = client, f"{base_url.rstrip('/')}/v2", token
        self.budget = Budget()

    async def call(
        self, query: str, variables: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(data, errors), waiting out every limit met on the way (this board's wait
        alone): Monday.com answers application errors with HTTP 200 and `errors[]`,
        alongside whatever data it could give (a batch's other mutations)."""
        for _ in range(MAX_TRIES):
            try:
                return await self._call_once(query, variables)
            except Throttled as exc:
                log.info("monday.com asked to wait", extra={"wait_s": exc.wait_s, "why": str(exc)})
                await asyncio.sleep(exc.wait_s)
        raise Throttled(0, "still throttled after every try")

    async def _call_once(
        self, query: str, variables: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        wait = self.budget.wait_s()
        if wait:
            await asyncio.sleep(wait)
            self.budget = Budget()
        response = await self._client.post(
            self._url,
            json={"query": query, "variables": dict(variables or {})},
            headers={"authorization": self._token, "api-version": "2025-04"},
        )
        if response.status_code == 429:
            raise Throttled(_seconds(response.headers.get("retry-after"), 60.0), "rate limited")
        if response.status_code != 200:
            raise MondayError(f"Monday.com answered {response.status_code}: {response.text[:300]}")
        doc = response.json()
        errors = list(doc.get("errors") or [])
        for error in errors:
            extensions = error.get("extensions") or {}
            if extensions.get("code") == "COMPLEXITY_BUDGET_EXHAUSTED":
                raise Throttled(
                    _seconds(extensions.get("retry_in_seconds"), 60.0), "complexity budget spent"
                )
        data = doc.get("data") or {}
        complexity = data.get("complexity") or {}
        if "after" in complexity:
            self.budget = Budget(
                int(complexity["after"]), float(complexity.get("reset_in_x_seconds") or 0)
            )
        if errors and not any(v is not None for k, v in data.items() if k != "complexity"):
            raise MondayError("; ".join(str(e.get("message")) for e in errors)[:500])
        return data, errors


def _seconds(value: Any, default: float) -> float:
    try:
        return min(MAX_WAIT_S, max(0.0, float(value)))
    except (TypeError, ValueError):
        return default


COMPLEXITY = "complexity { after reset_in_x_seconds }"


def batch_mutation(board_id: str, ops: Sequence[Op], layout: Layout) -> tuple[str, dict[str, Any]]:
    """One request for a batch of ops: aliased mutations, `column_values` as JSON strings."""
    params = ["$board: ID!"]
    fields = [COMPLEXITY]
    variables: dict[str, Any] = {"board": board_id}
    for n, op in enumerate(ops):
        variables[f"v{n}"] = orjson.dumps(layout.board_values(op.send)).decode()
        if op.item_id is None:
            params += [f"$g{n}: String!", f"$n{n}: String!", f"$v{n}: JSON!"]
            variables[f"g{n}"] = layout.groups[op.wanted.group]
            variables[f"n{n}"] = op.wanted.name
            fields.append(
                f"m{n}: create_item(board_id: $board, group_id: $g{n}, item_name: $n{n},"
                f" column_values: $v{n}, create_labels_if_missing: true) {{ id }}"
            )
        else:
            params += [f"$i{n}: ID!", f"$v{n}: JSON!"]
            variables[f"i{n}"] = op.item_id
            fields.append(
                f"m{n}: change_multiple_column_values(board_id: $board, item_id: $i{n},"
                f" column_values: $v{n}, create_labels_if_missing: true) {{ id }}"
            )
    return f"mutation ({', '.join(params)}) {{ {' '.join(fields)} }}", variables


# --- the sync ---------------------------------------------------------------------------

# Monday.com's column types that can hold each of Tandem's (a text Tandem writes fits a
# long text; a status is "color" in older answers).
_FITTING_TYPES = {
    "text": {"text", "long_text"},
    "date": {"date"},
    "status": {"status", "color"},
}


def column_layout(columns: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Tandem's columns (by their id) found on the board: by the same id, else by title
    (any case) when the column's type fits. Those not found are to be created."""
    by_id = {str(c["id"]): c for c in columns}
    by_title = {str(c["title"]).strip().lower(): c for c in columns}
    found: dict[str, str] = {}
    for column_id, (title, kind) in COLUMNS.items():
        column = by_id.get(column_id) or by_title.get(title.lower())
        if column is not None and column.get("type") in _FITTING_TYPES[kind]:
            found[column_id] = str(column["id"])
    return found


@dataclass(frozen=True)
class Layout:
    """Where Tandem's groups (title → id) and columns (Tandem's id → the board's) are."""

    groups: dict[str, str]
    columns: dict[str, str]

    def doc(self) -> dict[str, Any]:
        return {"groups": self.groups, "columns": self.columns}

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Layout:
        return cls(dict(doc.get("groups") or {}), dict(doc.get("columns") or {}))

    def board_values(self, send: Mapping[str, Any]) -> dict[str, Any]:
        """Column values keyed by the board's column ids (the item's name stays `name`)."""
        return {k if k == "name" else self.columns[k]: v for k, v in send.items()}


@dataclass(frozen=True)
class Board:
    tenant_id: str
    board_id: str
    token: str
    layout: Layout
    set_up: bool
    webhook_id: str | None
    last_sent_at: datetime | None


class MondaySync:
    def __init__(
        self, pool: asyncpg.Pool, settings: DeliverySettings, now: Callable[[], datetime]
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._now = now  # the clock the figures' periods are read by
        self._client = httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        # tenant → (monotonic time before which its board is not tried, the last pause)
        self._failed: dict[str, tuple[float, float]] = {}
        # tenant → when its board's webhook was last tried (monotonic)
        self._webhook_tried: dict[str, float] = {}

    async def run_once(self) -> None:
        """Starts a task for every tenant with a board and none running."""
        tenants = await self._pool.fetch("SELECT tandem_monday_tenants() AS tenant_id")
        now = time.monotonic()
        for row in tenants:
            tenant_id = row["tenant_id"]
            if self._failed.get(tenant_id, (0.0, 0.0))[0] > now:
                continue
            task = self._running.get(tenant_id)
            if task is None or task.done():
                self._running[tenant_id] = asyncio.create_task(self._board_task(tenant_id))

    async def close(self) -> None:
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        await self._client.aclose()

    async def _board_task(self, tenant_id: str) -> None:
        try:
            board = await self._board(tenant_id)
            if board is None:
                return
            if board.last_sent_at is not None:
                # At most one round a minute: wait for the board's minute to be over.
                due = board.last_sent_at + timedelta(seconds=self._settings.monday_min_interval_s)
                wait = (due - datetime.now(UTC)).total_seconds()
                if wait > 0:
                    await asyncio.sleep(wait)
            # One writer per board across delivery processes, by a lease on its row rather
            # than a lock on a held connection: a board waiting out Monday.com's limits holds
            # no connection and no slot that another tenant's board needs.
            if not await self._lease(tenant_id, LEASE_S):
                return  # another delivery process is syncing this board
            try:
                await self._round(tenant_id)
            finally:
                await self._lease(tenant_id, None)
            self._failed.pop(tenant_id, None)
        except (
            httpx.HTTPError,
            OSError,
            MondayError,
            Throttled,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            # An answer not of the documented shape: this board waits, the others go on.
            ValueError,
            KeyError,
            TypeError,
        ) as exc:
            pause = min(FAILED_MAX_S, 2 * self._failed.get(tenant_id, (0.0, FAILED_FIRST_S / 2))[1])
            self._failed[tenant_id] = (time.monotonic() + pause, pause)
            log.warning(
                "monday.com sync failed; trying the board again later",
                extra={"tenant_id": tenant_id, "error": repr(exc), "retry_in_s": pause},
            )
            await self._note_error(tenant_id, str(exc))

    async def _lease(self, tenant_id: str, seconds: float | None) -> bool:
        """Takes (or renews) the board's lease for `seconds`; None gives it back. False
        when another process holds it."""
        async with tenant_tx(self._pool, tenant_id) as conn:
            if seconds is None:
                await conn.execute(
                    "UPDATE monday_boards SET lease_until = NULL, lease_holder = NULL"
                    " WHERE tenant_id = $1 AND lease_holder = $2",
                    tenant_id,
                    self._holder,
                )
                return True
            taken = await conn.fetchval(
                "UPDATE monday_boards SET lease_until = now() + make_interval(secs => $3),"
                " lease_holder = $2 WHERE tenant_id = $1"
                " AND (lease_until IS NULL OR lease_until < now() OR lease_holder = $2)"
                " RETURNING true",
                tenant_id,
                self._holder,
                seconds,
            )
            return bool(taken)

    async def _note_error(self, tenant_id: str, error: str) -> None:
        try:
            async with tenant_tx(self._pool, tenant_id) as conn:
                await conn.execute(
                    "UPDATE monday_boards SET last_error = $2 WHERE tenant_id = $1",
                    tenant_id,
                    error[:500],
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass

    async def _board(self, tenant_id: str) -> Board | None:
        async with tenant_tx(self._pool, tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT board_id, layout, set_up_for, last_sent_at, webhook_id FROM monday_boards"
                " WHERE tenant_id = $1",
                tenant_id,
            )
            # The token through the connector settings' own reader, as every connector
            # secret is read.
            connector = await read_settings(conn, tenant_id, "monday")
        if row is None or not connector.enabled or connector.secret is None:
            return None
        set_up = row["set_up_for"] == row["board_id"]
        return Board(
            tenant_id,
            row["board_id"],
            connector.secret,
            Layout.of(row["layout"]),
            set_up,
            row["webhook_id"] if set_up else None,
            row["last_sent_at"] if set_up else None,
        )

    async def _round(self, tenant_id: str) -> None:
        board = await self._board(tenant_id)
        if board is None:
            return
        api = MondayApi(self._client, self._settings.monday_base_url, board.token)
        layout = board.layout if board.set_up else await self._set_up(api, board)
        if board.set_up and board.webhook_id is None:
            await self._retry_webhook(api, board)
        now = self._now()
        async with tenant_tx(self._pool, tenant_id) as conn:
            wanted = await wanted_items(conn, tenant_id, now)
            sent = {
                r["item_key"]: (r["item_id"], dict(r["sent"]))
                for r in await conn.fetch(
                    "SELECT item_key, item_id, sent FROM monday_items"
                    " WHERE tenant_id = $1 AND board_id = $2",
                    tenant_id,
                    board.board_id,
                )
            }
        ops = plan(wanted, sent, now.strftime("%Y-%m-%d %H:%M UTC"))
        if not ops:
            return
        done = 0
        for start in range(0, len(ops), BATCH):
            done += await self._send(api, board, layout, ops[start : start + BATCH])
        async with tenant_tx(self._pool, tenant_id) as conn:
            await conn.execute(
                "UPDATE monday_boards SET last_sent_at = now(), last_error = NULL"
                " WHERE tenant_id = $1",
                tenant_id,
            )
        log.info(
            "monday.com board updated",
            extra={"tenant_id": tenant_id, "items": done, "refused": len(ops) - done},
        )

    async def _send(self, api: MondayApi, board: Board, layout: Layout, ops: Sequence[Op]) -> int:
        """Sends one batch (waiting out the limits it meets) and records what the board
        acknowledged; the number of items acknowledged."""
        query, variables = batch_mutation(board.board_id, ops, layout)
        if not await self._lease(board.tenant_id, LEASE_S):
            raise MondayError("the board's lease was lost to another process")
        data, errors = await api.call(query, variables)
        for error in errors:
            log.warning(
                "monday.com refused an item",
                extra={"tenant_id": board.tenant_id, "error": error.get("message")},
            )
        rows: list[tuple[str, str, dict[str, Any]]] = []
        for n, op in enumerate(ops):
            result = data.get(f"m{n}")
            if not result:
                continue
            merged = {**op.wanted.columns, **op.send}
            rows.append((op.wanted.key, str(result["id"]), merged))
        if rows:
            async with tenant_tx(self._pool, board.tenant_id) as conn:
                await conn.execute(
                    "INSERT INTO monday_items (tenant_id, board_id, item_key, item_id, sent)"
                    " SELECT $1, $2, k, i, s FROM unnest($3::text[], $4::text[], $5::jsonb[])"
                    " AS u(k, i, s)"
                    " ON CONFLICT (tenant_id, board_id, item_key) DO UPDATE"
                    " SET item_id = EXCLUDED.item_id, sent = EXCLUDED.sent, sent_at = now()",
                    board.tenant_id,
                    board.board_id,
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                    [r[2] for r in rows],
                )
        return len(rows)

    async def _set_up(self, api: MondayApi, board: Board) -> Layout:
        """The groups and columns on the board: those already there (by title) are used,
        the missing ones created. Then the status webhook, without which the numbers still
        go out (its failure is noted and it is tried again later, see _round)."""
        data, _ = await api.call(
            f"query ($board: [ID!]) {{ {COMPLEXITY}"
            " boards(ids: $board) { id groups { id title } columns { id title type } } }",
            {"board": [board.board_id]},
        )
        found = data.get("boards") or []
        if not found:
            raise MondayError(f"board {board.board_id} not found or not shared with the token")
        groups = {g["title"]: g["id"] for g in found[0]["groups"] or []}
        columns = column_layout(found[0]["columns"] or [])
        missing_groups = [g for g in GROUPS if g not in groups]
        missing_columns = [c for c in COLUMNS if c not in columns]
        if missing_groups or missing_columns:
            params = ["$board: ID!"]
            fields = [COMPLEXITY]
            variables: dict[str, Any] = {"board": board.board_id}
            for n, title in enumerate(missing_groups):
                params.append(f"$g{n}: String!")
                variables[f"g{n}"] = title
                fields.append(f"g{n}: create_group(board_id: $board, group_name: $g{n}) {{ id }}")
            for n, column_id in enumerate(missing_columns):
                title, kind = COLUMNS[column_id]
                params.append(f"$t{n}: String!")
                variables[f"t{n}"] = title
                # The board names the new column; the layout remembers its id.
                fields.append(
                    f"c{n}: create_column(board_id: $board, title: $t{n},"
                    f" column_type: {kind}) {{ id }}"
                )
            created, errors = await api.call(
                f"mutation ({', '.join(params)}) {{ {' '.join(fields)} }}", variables
            )
            if errors:
                raise MondayError(f"setting up the board failed: {errors[0].get('message')}")
            for n, title in enumerate(missing_groups):
                groups[title] = str(created[f"g{n}"]["id"])
            for n, column_id in enumerate(missing_columns):
                columns[column_id] = str(created[f"c{n}"]["id"])
        layout = Layout({g: groups[g] for g in GROUPS}, columns)
        webhook_id = await self._status_webhook(api, board, layout)
        async with tenant_tx(self._pool, board.tenant_id) as conn:
            await conn.execute(
                "UPDATE monday_boards SET layout = $2, webhook_id = $3, set_up_for = board_id,"
                " last_sent_at = NULL WHERE tenant_id = $1 AND board_id = $4",
                board.tenant_id,
                layout.doc(),
                webhook_id,
                board.board_id,
            )
        log.info("monday.com board set up", extra={"tenant_id": board.tenant_id})
        return layout

    async def _retry_webhook(self, api: MondayApi, board: Board) -> None:
        now = time.monotonic()
        if self._webhook_tried.get(board.tenant_id, 0.0) > now - WEBHOOK_RETRY_S:
            return
        self._webhook_tried[board.tenant_id] = now
        webhook_id = await self._status_webhook(api, board, board.layout)
        if webhook_id is not None:
            async with tenant_tx(self._pool, board.tenant_id) as conn:
                await conn.execute(
                    "UPDATE monday_boards SET webhook_id = $2, last_error = NULL"
                    " WHERE tenant_id = $1 AND board_id = $3",
                    board.tenant_id,
                    webhook_id,
                    board.board_id,
                )

    async def _status_webhook(self, api: MondayApi, board: Board, layout: Layout) -> str | None:
        """The board's webhook on Tandem's Status column; None when Monday.com refused it
        (it could not reach this service, say)."""
        url = f"{self._settings.public_url}/v1/connectors/monday/{board.tenant_id}"
        config = orjson.dumps({"columnId": layout.columns[STATUS_COLUMN]}).decode()
        try:
            hook, errors = await api.call(
                f"mutation ($board: ID!, $url: String!, $config: JSON) {{ {COMPLEXITY}"
                " create_webhook(board_id: $board, url: $url, event: change_status_column_value,"
                " config: $config) { id } }",
                {"board": board.board_id, "url": url, "config": config},
            )
        except MondayError as exc:
            hook, errors = {}, [{"message": str(exc)}]
        created = hook.get("create_webhook")
        if errors or not created:
            log.warning(
                "monday.com board webhook not created; status changes on the board wait",
                extra={"tenant_id": board.tenant_id, "errors": errors},
            )
            await self._note_error(
                board.tenant_id,
                "the board's webhook could not be created: status changes made on the board"
                " do not reach Tandem yet",
            )
            return None
        return str(created["id"])


# --- reading Tandem's numbers -----------------------------------------------------------

SOURCED_SQL = """
SELECT coalesce(sum(o.won_amount), 0)::float8 FROM opportunities o
JOIN leads l ON l.tenant_id = o.tenant_id AND l.lead_id = o.lead_id
WHERE o.tenant_id = $1 AND o.status = 'WON' AND o.closed_at >= $2 AND o.closed_at < $3
  AND coalesce(l.first_touch_channel, 'outbound') <> 'outbound'
"""
INFLUENCED_SQL = """
SELECT coalesce(sum(amount), 0)::float8 FROM attribution_credits
WHERE tenant_id = $1 AND model = 'LINEAR' AND kind = 'REVENUE' AND channel IS NOT NULL
  AND converted_at >= $2 AND converted_at < $3
"""


async def wanted_items(conn: asyncpg.Connection, tenant_id: str, now: datetime) -> list[Wanted]:
    """Every item the board should show now, read in the caller's tenant transaction."""
    this = week_start(now)
    last, before = this - timedelta(days=7), this - timedelta(days=14)
    end = max(now, this + timedelta(seconds=1))
    weeks = [
        vars(await period_metrics(conn, tenant_id, this, end, now)),
        vars(await period_metrics(conn, tenant_id, last, this, now)),
        vars(await period_metrics(conn, tenant_id, before, last, now)),
    ]
    stages = {
        r["stage"]: r["n"]
        for r in await conn.fetch(
            "SELECT stage, count(*) AS n FROM leads WHERE tenant_id = $1 GROUP BY stage",
            tenant_id,
        )
    }
    sourced = [
        await conn.fetchval(SOURCED_SQL, tenant_id, this, end),
        await conn.fetchval(SOURCED_SQL, tenant_id, last, this),
    ]
    influenced = [
        await conn.fetchval(INFLUENCED_SQL, tenant_id, this, end),
        await conn.fetchval(INFLUENCED_SQL, tenant_id, last, this),
    ]
    out = [
        Wanted(f.key, SHARED_NUMBERS, f.name, figure_columns(f))
        for f in figures_of(weeks, stages, sourced, influenced)
    ]
    out.append(
        top_campaign_item(
            await top_campaign(conn, tenant_id, this, end),
            await top_campaign(conn, tenant_id, last, this),
        )
    )
    actions = await conn.fetch(
        "SELECT action_item_id, title, owner, team, due_date, status FROM action_items"
        " WHERE tenant_id = $1 AND (week_start >= $2 OR status IN ('OPEN', 'IN_PROGRESS'))"
        " ORDER BY week_start DESC, action_item_id LIMIT $3",
        tenant_id,
        (this - timedelta(weeks=ACTION_ITEM_WEEKS)).date(),
        MAX_ACTION_ITEMS,
    )
    out += [
        Wanted(f"action:{r['action_item_id']}", ACTION_ITEMS, r["title"], action_item_columns(r))
        for r in actions
    ]
    return out
