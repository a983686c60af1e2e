"""The statements that took the database's time over a stretch of a run.

Read from pg_stat_statements (schema `stats`; the local stack preloads the module) before
and after, as the owner role: the difference names each statement's execution time, calls
and rows, per 1,000 applied events. Execution time is the server's, lock waits included.
"""

from __future__ import annotations

import asyncpg

Snapshot = dict[int, tuple[str, int, float, int]]


async def snapshot(conn: asyncpg.Connection) -> Snapshot | None:
    """(query, calls, total ms, rows) by query id; None where statistics are not kept."""
    try:
        rows = await conn.fetch(
            "SELECT queryid, query, calls, total_exec_time, rows FROM stats.pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    except (
        asyncpg.UndefinedTableError,
        asyncpg.InvalidSchemaNameError,
        asyncpg.ObjectNotInPrerequisiteStateError,  # the module is not preloaded
    ):
        return None
    return {r["queryid"]: (r["query"], r["calls"], r["total_exec_time"], r["rows"]) for r in rows}


def report(before: Snapshot | None, after: Snapshot | None, events: int, most: int = 12) -> str:
    if before is None or after is None or not events:
        return "statement statistics: not kept by this server (pg_stat_statements)"
    spent = []
    for queryid, (query, calls, ms, rows) in after.items():
        _, calls0, ms0, rows0 = before.get(queryid, ("", 0, 0.0, 0))
        if calls > calls0:
            spent.append((ms - ms0, calls - calls0, rows - rows0, " ".join(query.split())))
    total = sum(s[0] for s in spent) or 1.0
    lines = [
        f"statements: {total / 1_000:.2f} s of execution in all; the {most} that took the most:",
        f"{'share':>6} {'µs/event':>9} {'calls/1k':>9} {'rows/1k':>9}  statement",
    ]
    for ms, calls, rows, query in sorted(spent, reverse=True)[:most]:
        lines.append(
            f"{100 * ms / total:5.1f}% {1_000 * ms / events:9.2f} {1_000 * calls / events:9.2f}"
            f" {1_000 * rows / events:9.1f}  {query[:110]}"
        )
    return "\n".join(lines)
