"""`tandem import FILE --tenant SLUG`: a backlog onto the bulk lane (SPEC 14, 11).

Reads NDJSON (Tandem events), CSV with a header (envelope columns, `properties.KEY`
columns, or a `properties` column holding JSON) or a Segment export (NDJSON of Segment
messages, mapped as the Segment intake maps them); `.gz` files are read as gzip.

Resumable without duplicates: after every acknowledged batch the number of records done
(and the size of the rejects file) is written to a checkpoint file; a rerun continues
after it. A record without an event id gets one derived from its content, so the batch
that was in flight when the import stopped is resent under the same ids and applied once.
Rejected records go to a rejects file (NDJSON: record number, reasons, the record).

The credential is checked first (the gateway's `viewer`: its tenant and role), so a key of
another tenant, a read-only or a revoked key stops the import before a record is sent or a
checkpoint written, instead of having every record refused.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import hashlib
import io
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from tandem_client import TandemClient, TandemError

from services.gateway.connectors import segment_mapping
from services.gateway.connectors.mapping import Invalid
from shared.connector_settings import read_settings
from shared.db import create_pool, tenant_tx

FORMATS = ("auto", "ndjson", "csv", "segment")
# Properties a CSV cell holds as a number (or a JSON value), not as text.
NUMERIC_PROPERTIES = frozenset({"amount", "company_size", "annual_revenue"})
_FINGERPRINT_BYTES = 65_536


@dataclass
class Checkpoint:
    file: str
    fingerprint: str
    tenant: str
    done: int = 0
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    rejects_offset: int = 0
    complete: bool = False

    def save(self, path: Path) -> None:
        # Written beside, then renamed over: a crash leaves the old or the new, never half.
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as out:
            out.write(orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)


class CredentialRefused(Exception):
    """The key cannot import into the tenant; nothing was sent."""


SENDING_ROLES = ("ingest", "admin")


def check_credential(client: Any, tenant: str) -> None:
    """Raises CredentialRefused unless the client's key sends events for `tenant`."""
    try:
        viewer = client.graphql("{ viewer { tenant role } }")["viewer"]
    except TandemError as exc:
        raise CredentialRefused(f"the gateway refused the API key: {exc}") from exc
    if viewer["tenant"] != tenant:
        raise CredentialRefused(
            f"the API key belongs to tenant {viewer['tenant']!r}, not {tenant!r}:"
            " use a key of the tenant you import into"
        )
    if str(viewer["role"]).lower() not in SENDING_ROLES:
        raise CredentialRefused(
            f"the API key's role is {str(viewer['role']).lower()}; importing needs"
            f" {' or '.join(SENDING_ROLES)}"
        )


class Rejected(Exception):
    """A record that cannot become an event; its reason goes to the rejects file."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _open(path: Path) -> IO[bytes]:
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    raw.seek(0)
    return raw


def fingerprint(path: Path) -> str:
    with path.open("rb") as src:
        head = src.read(_FINGERPRINT_BYTES)
    return hashlib.sha256(head + str(path.stat().st_size).encode()).hexdigest()


def detect_format(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    with _open(path) as src:
        for line in src:
            if line.strip():
                try:
                    first = orjson.loads(line)
                except orjson.JSONDecodeError:
                    return "ndjson"
                kind = first.get("type") if isinstance(first, dict) else None
                segment = kind in segment_mapping.KINDS and "event_id" not in first
                return "segment" if segment else "ndjson"
    return "ndjson"


def records(path: Path, fmt: str) -> Iterator[tuple[Any, str]]:
    """(parsed record or Rejected, raw text) in file order; one per line (NDJSON) or row."""
    with _open(path) as src:
        text = io.TextIOWrapper(src, encoding="utf-8", newline="")
        if fmt == "csv":
            reader = csv.DictReader(text)
            for row in reader:
                raw = ",".join(v or "" for v in row.values() if isinstance(v, str))
                yield _csv_event(row), raw
            return
        for line in text:
            stripped = line.strip()
            if not stripped:
                yield Rejected("", "empty line"), line
                continue
            try:
                yield orjson.loads(stripped), stripped
            except orjson.JSONDecodeError as exc:
                yield Rejected("", f"not valid JSON: {exc}"), stripped


def _csv_event(row: dict[str | Any, Any]) -> dict[str, Any] | Rejected:
    if None in row:
        return Rejected("", "more cells than the header names")
    event: dict[str, Any] = {}
    for column, cell in row.items():
        if cell is None or cell == "":
            continue
        if column == "properties":
            try:
                props = orjson.loads(cell)
            except orjson.JSONDecodeError:
                return Rejected("properties", "the properties column must hold a JSON object")
            if not isinstance(props, dict):
                return Rejected("properties", "the properties column must hold a JSON object")
            event.setdefault("properties", {}).update(props)
        elif column.startswith("properties."):
            target = event.setdefault("properties", {})
            *parents, leaf = column.split(".")[1:]
            for parent in parents:
                target = target.setdefault(parent, {})
            target[leaf] = _cell(leaf, cell)
        else:
            event[column] = cell
    return event


def _cell(key: str, cell: str) -> Any:
    if key not in NUMERIC_PROPERTIES:
        return cell
    try:
        return orjson.loads(cell)
    except orjson.JSONDecodeError:
        return cell  # left as text: the validator names the field


def event_id_for(record: dict[str, Any]) -> str:
    """A record's own id, else one derived from its content: stable across reruns."""
    given = record.get("event_id")
    if isinstance(given, str) and given:
        return given
    digest = hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"imp-{digest[:40]}"


def to_event(
    record: Any,
    fmt: str,
    tenant: str,
    mapping: segment_mapping.SegmentMapping,
    now: datetime,
) -> dict[str, Any] | Rejected | None:
    """The event to send for a record, Rejected, or None for a Segment track that the
    tenant's map does not name (skipped, as the Segment intake does)."""
    if isinstance(record, Rejected):
        return record
    if not isinstance(record, dict):
        return Rejected("", "a record must be a JSON object")
    if fmt == "segment":
        try:
            mapped = segment_mapping.to_event(str(record.get("type")), record, mapping, now)
        except Invalid as exc:
            return Rejected(exc.field, exc.reason)
        if isinstance(mapped, segment_mapping.Unmapped):
            return None
        event = mapped
    else:
        try:
            event = {**record, "event_id": event_id_for(record)}
        except TypeError as exc:
            return Rejected("", f"record cannot be stored: {exc}")
    # A record naming another tenant keeps it, and the gateway refuses it by field.
    event.setdefault("tenant_id", tenant)
    return event


@dataclass
class ImportOptions:
    path: Path
    tenant: str
    url: str
    key: str
    fmt: str = "auto"
    batch: int = 500
    rejects: Path | None = None
    checkpoint: Path | None = None
    restart: bool = False
    progress: bool = True


def _load_checkpoint(opts: ImportOptions, path: Path, fp: str) -> Checkpoint:
    fresh = Checkpoint(file=str(opts.path.resolve()), fingerprint=fp, tenant=opts.tenant)
    if opts.restart or not path.exists():
        return fresh
    saved = Checkpoint(**orjson.loads(path.read_bytes()))
    if saved.fingerprint != fp or saved.tenant != opts.tenant:
        raise SystemExit(
            f"{path} belongs to another file or tenant; pass --restart to import from the start"
        )
    return saved


def run_import(opts: ImportOptions, console: Console | None = None) -> Checkpoint:
    """Imports the file (resuming from its checkpoint); the final checkpoint."""
    console = console or Console(stderr=True)
    # A backfill can wait out a broker restart: about 5 minutes at the gateway's
    # Retry-After of 5 s, then it stops and a rerun resumes.
    with TandemClient(opts.key, opts.url, lane="bulk", max_retries=60) as client:
        check_credential(client, opts.tenant)
        return _import(opts, client, console)


def _import(opts: ImportOptions, client: Any, console: Console) -> Checkpoint:
    fmt = detect_format(opts.path) if opts.fmt == "auto" else opts.fmt
    checkpoint_path = opts.checkpoint or opts.path.with_name(opts.path.name + ".checkpoint.json")
    rejects_path = opts.rejects or opts.path.with_name(opts.path.name + ".rejects.ndjson")
    state = _load_checkpoint(opts, checkpoint_path, fingerprint(opts.path))
    if state.complete:
        console.print(f"{opts.path} was imported already ({checkpoint_path}); --restart to resend")
        return state
    mapping = asyncio.run(_segment_mapping(opts.tenant)) if fmt == "segment" else None
    total = sum(1 for _ in records(opts.path, fmt))
    now = _now()

    with rejects_path.open("ab") as rejects:
        # Rejects written after the last checkpoint belong to a batch that is resent now.
        rejects.truncate(state.rejects_offset)
        rejects.seek(state.rejects_offset)
        progress = Progress(
            TextColumn("[bold]import[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]:>8.0f} records/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not opts.progress,
        )
        started, started_done = time.monotonic(), state.done
        with progress:
            task = progress.add_task(opts.path.name, total=total, completed=state.done, rate=0.0)
            pending: list[tuple[int, dict[str, Any], str]] = []
            local: list[tuple[int, Rejected, str]] = []
            for number, (record, raw) in enumerate(records(opts.path, fmt)):
                if number < state.done:
                    continue
                event = to_event(
                    record, fmt, opts.tenant, mapping or segment_mapping.DEFAULT_MAPPING, now
                )
                if event is None:
                    state.skipped += 1
                elif isinstance(event, Rejected):
                    local.append((number, event, raw))
                else:
                    pending.append((number, event, raw))
                if len(pending) >= opts.batch:
                    _send(client, pending, local, number + 1, state, rejects)
                    _saved(state, checkpoint_path, rejects)
                    pending, local = [], []
                    _advance(progress, task, state, started, started_done)
            _send(client, pending, local, total, state, rejects)
            state.complete = True
            _saved(state, checkpoint_path, rejects)
            _advance(progress, task, state, started, started_done)
    elapsed = max(time.monotonic() - started, 1e-9)
    console.print(
        f"[bold]{opts.path.name}[/]: {state.accepted} accepted, {state.rejected} rejected"
        f" (see {rejects_path}), {state.skipped} skipped as unmapped;"
        f" {(state.done - started_done) / elapsed:,.0f} records/s"
    )
    return state


def _send(
    client: Any,
    pending: list[tuple[int, dict[str, Any], str]],
    local: list[tuple[int, Rejected, str]],
    done: int,
    state: Checkpoint,
    rejects: IO[bytes],
) -> None:
    rows: list[tuple[int, list[dict[str, str]], str]] = [
        (number, [{"field": r.field, "reason": r.reason}], raw) for number, r, raw in local
    ]
    if pending:
        result = client.send([event for _, event, _ in pending])
        state.accepted += result.accepted
        for rejection in result.rejected:
            number, _, raw = pending[rejection.index]
            rows.append((number, rejection.errors, raw))
    for number, errors, raw in sorted(rows, key=lambda row: row[0]):
        rejects.write(orjson.dumps({"record": number + 1, "errors": errors, "raw": raw}) + b"\n")
    state.rejected += len(rows)
    state.done = done


def _saved(state: Checkpoint, path: Path, rejects: IO[bytes]) -> None:
    rejects.flush()
    os.fsync(rejects.fileno())
    state.rejects_offset = rejects.tell()
    state.save(path)


def _advance(progress: Progress, task: Any, state: Checkpoint, started: float, base: int) -> None:
    rate = (state.done - base) / max(time.monotonic() - started, 1e-9)
    progress.update(task, completed=state.done, rate=rate)


def _now() -> datetime:
    from shared.settings import load_settings

    return load_settings().now()


async def _segment_mapping(tenant: str) -> segment_mapping.SegmentMapping:
    """The tenant's Segment tables, read as the gateway reads them."""
    from shared.settings import load_settings

    pool = await create_pool(load_settings().database_admin_url, max_size=1)
    try:
        async with tenant_tx(pool, tenant) as conn:
            settings = await read_settings(conn, tenant, "segment")
    finally:
        await pool.close()
    return segment_mapping.SegmentMapping.for_tenant(settings.mappings)


def _command(args: argparse.Namespace) -> int:
    key = args.key or os.environ.get("TANDEM_API_KEY")
    if not key:
        print("an API key of role ingest or admin: --key or TANDEM_API_KEY", file=sys.stderr)
        return 2
    port = os.environ.get("TANDEM_HTTP_PORT", "8000")
    opts = ImportOptions(
        path=Path(args.file),
        tenant=args.tenant,
        url=args.url or f"http://127.0.0.1:{port}",
        key=key,
        fmt=args.format,
        batch=args.batch,
        rejects=Path(args.rejects) if args.rejects else None,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        restart=args.restart,
        progress=not args.no_progress,
    )
    try:
        state = run_import(opts)
    except CredentialRefused as exc:
        print(f"tandem import: nothing sent: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        return 130
    except TandemError as exc:
        print(f"\nstopped: {exc}\nrun the same command again to resume", file=sys.stderr)
        return 75
    return 0 if state.rejected == 0 else 1


def register(sub: Any) -> None:
    """Adds `tandem import` to the CLI's subcommands."""
    cmd = sub.add_parser("import", help="import a backlog file (NDJSON, CSV, Segment export)")
    cmd.add_argument("file")
    cmd.add_argument("--tenant", required=True)
    cmd.add_argument("--key", help="API key (ingest or admin); default TANDEM_API_KEY")
    cmd.add_argument("--url", help="gateway URL; default http://127.0.0.1:$TANDEM_HTTP_PORT")
    cmd.add_argument("--format", choices=FORMATS, default="auto")
    cmd.add_argument("--batch", type=int, default=500, help="events per request (1 to 1000)")
    cmd.add_argument("--rejects", help="default FILE.rejects.ndjson")
    cmd.add_argument("--checkpoint", help="default FILE.checkpoint.json")
    cmd.add_argument("--restart", action="store_true", help="ignore the checkpoint")
    cmd.add_argument("--no-progress", action="store_true")
    cmd.set_defaults(fn=_command)
