"""`tandem import` of a 100,000-line file, killed mid-way and resumed: every valid record
lands once, the invalid ones are in the rejects file once, and the leads are in the read
model. Plus the CSV and Segment-export formats."""

from __future__ import annotations

import asyncio
import csv
import gzip
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson

from tests.conftest import REPO
from tests.integration.conftest import Platform

LINES = 100_000
LEADS = 5_000
BAD_LINES = {17: b"{not json", 50_001: b'{"type": "no_such_type"}', 99_998: b"[1, 2]"}


def _write_backlog(path: Path) -> None:
    with gzip.open(path, "wb", compresslevel=1) as out:
        for i in range(LINES):
            if i in BAD_LINES:
                out.write(BAD_LINES[i] + b"\n")
                continue
            event = {
                "type": "page_view" if i % 10 else "content_download",
                "occurred_at": f"2026-11-{1 + i % 18:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                "lead_id": f"L-{i % LEADS}",
                "channel": "organic_search",
                "properties": {"path": f"/p/{i}"},
            }
            # every other record carries its own id; the rest get one from their content
            if i % 2:
                event["event_id"] = f"backlog-{i}"
            out.write(orjson.dumps(event) + b"\n")


def _tandem(*args: str, key: str, port: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TANDEM_API_KEY": key, "TANDEM_HTTP_PORT": port}
    tandem = str(Path(sys.executable).with_name("tandem"))
    return subprocess.Popen(
        [tandem, "import", *args, "--no-progress"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def test_import_100k_lines_killed_and_resumed_without_duplicates(
    platform: Platform, tmp_path: Path
) -> None:
    tenant, _ = await platform.create_tenant("import")
    key = await platform.api_key(tenant, "ingest")
    port = platform.gateway_url.rsplit(":", 1)[1]
    backlog = tmp_path / "backlog.ndjson.gz"
    _write_backlog(backlog)
    checkpoint = tmp_path / "backlog.ndjson.gz.checkpoint.json"
    rejects = tmp_path / "backlog.ndjson.gz.rejects.ndjson"

    first = _tandem(str(backlog), "--tenant", tenant, key=key, port=port)

    async def part_done() -> bool:
        if first.poll() is not None:
            raise AssertionError(first.communicate()[0].decode())
        if not checkpoint.exists():
            return False
        return bool(orjson.loads(checkpoint.read_bytes())["done"] >= 20_000)

    await platform.wait_for(part_done, 120, "part of the import to be acknowledged")
    first.send_signal(signal.SIGKILL)  # a crash: no clean shutdown, a batch in flight
    first.wait()
    stopped_at = orjson.loads(checkpoint.read_bytes())["done"]
    assert 20_000 <= stopped_at < LINES

    second = _tandem(str(backlog), "--tenant", tenant, key=key, port=port)
    output, _ = await asyncio.to_thread(second.communicate, timeout=600)
    summary = output.decode()
    assert second.returncode == 1, summary  # 1: some records were rejected
    valid = LINES - len(BAD_LINES)
    final = orjson.loads(checkpoint.read_bytes())
    assert final["complete"] and final["done"] == LINES
    assert final["rejected"] == len(BAD_LINES)
    assert f"{final['accepted']} accepted, 3 rejected" in summary
    rejected = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [r["record"] for r in rejected] == sorted(i + 1 for i in BAD_LINES)
    assert rejected[1]["errors"][0]["field"] == "type"

    # the bulk lane is drained after live traffic: on a busy machine this takes minutes
    await platform.wait_events(tenant, valid, timeout=900)
    count = await platform.admin.fetchval(
        "SELECT count(*) FROM events WHERE tenant_id = $1 AND type <> 'rescore'", tenant
    )
    assert count == valid  # the resent batch and the content-derived ids added nothing

    async def all_leads() -> bool:
        n = await platform.admin.fetchval("SELECT count(*) FROM leads WHERE tenant_id = $1", tenant)
        return bool(n == LEADS)

    await platform.wait_for(all_leads, 300, "every imported lead in the read model")

    # a rerun of a finished import sends nothing (and still reports its rejects)
    third = _tandem(str(backlog), "--tenant", tenant, key=key, port=port)
    output, _ = await asyncio.to_thread(third.communicate, timeout=60)
    assert third.returncode == 1 and b"imported already" in output


async def test_import_csv_and_segment_export(platform: Platform, tmp_path: Path) -> None:
    tenant, key = await platform.create_tenant("importfmt")
    port = platform.gateway_url.rsplit(":", 1)[1]
    table = tmp_path / "opportunities.csv"
    with table.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "event_id",
                "type",
                "occurred_at",
                "lead_id",
                "properties.opportunity_id",
                "properties.amount",
            ]
        )
        writer.writerow(
            ["o-1", "opportunity_created", "2026-11-02T10:00:00Z", "C-1", "op-1", "900"]
        )
        writer.writerow(["", "demo_request", "2026-11-01T10:00:00Z", "C-1", "", ""])
        writer.writerow(["o-3", "opportunity_created", "2026-11-02T10:00:00Z", "C-2", "op-2", "x"])
    run = _tandem(str(table), "--tenant", tenant, key=key, port=port)
    output, _ = await asyncio.to_thread(run.communicate, timeout=120)
    assert run.returncode == 1, output
    assert b"2 accepted, 1 rejected" in output

    export = tmp_path / "segment-export.ndjson"
    export.write_bytes(
        b"\n".join(
            orjson.dumps(m)
            for m in [
                {
                    "type": "page",
                    "anonymousId": "a-9",
                    "messageId": "s-1",
                    "timestamp": "2026-11-03T10:00:00Z",
                    "properties": {"path": "/"},
                },
                {
                    "type": "identify",
                    "anonymousId": "a-9",
                    "userId": "S-1",
                    "messageId": "s-2",
                    "timestamp": "2026-11-03T10:05:00Z",
                    "traits": {"email": "s@x.co"},
                },
                {"type": "track", "userId": "S-1", "event": "Nothing Mapped", "messageId": "s-3"},
            ]
        )
    )
    run = _tandem(str(export), "--tenant", tenant, key=key, port=port)
    output, _ = await asyncio.to_thread(run.communicate, timeout=120)
    assert run.returncode == 0, output
    assert b"2 accepted, 0 rejected" in output and b"1 skipped" in output
    await platform.wait_events(tenant, 4)
    leads = await platform.leads(tenant)
    assert {"C-1", "S-1"} <= set(leads)
    stitched = await platform.admin.fetchval(
        "SELECT lead_id FROM events WHERE tenant_id = $1 AND event_id = 's-1'", tenant
    )
    assert stitched == "S-1"


async def test_import_refuses_a_key_it_cannot_use_before_sending_anything(
    platform: Platform, tmp_path: Path
) -> None:
    tenant, _ = await platform.create_tenant("importkey")
    other, other_key = await platform.create_tenant("importother")
    viewer = await platform.api_key(tenant, "viewer")
    port = platform.gateway_url.rsplit(":", 1)[1]
    backlog = tmp_path / "backlog.ndjson"
    backlog.write_bytes(
        orjson.dumps({"event_id": "k-1", "type": "demo_request",
                      "occurred_at": "2026-11-01T10:00:00Z", "lead_id": "K-1"}) + b"\n"
    )  # fmt: skip
    for key, reason in [
        (other_key, f"belongs to tenant '{other}'".encode()),
        (viewer, b"role is viewer"),
        ("tdm_nosuchkey_0000", b"refused the API key"),
    ]:
        run = _tandem(str(backlog), "--tenant", tenant, key=key, port=port)
        output, _ = await asyncio.to_thread(run.communicate, timeout=120)
        assert run.returncode == 2, output
        assert b"nothing sent" in output and reason in output, output
    # No checkpoint blocks the next run, and nothing reached either tenant.
    assert not backlog.with_name("backlog.ndjson.checkpoint.json").exists()
    for slug in (tenant, other):
        assert not await platform.admin.fetchval(
            "SELECT count(*) FROM events WHERE tenant_id = $1", slug
        )
