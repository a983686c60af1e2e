"""The worker's one checkpoint: the order of a batch's effects is enforced here.

Every step that writes runs inside `transaction` and has one contract: it issues database
statements on `tx.conn` and hands whatever must leave the process to the checkpoint, never
sending it itself. The checkpoint then applies the effects in this order:
  1. the steps' database statements (one transaction, bound to the batch's tenants);
  2. derived messages (`tx.emit`: lead states, transitions), sent and acknowledged by
     Kafka while the transaction is still open, so a crash before the commit replays the
     batch (readers key by lead and transition ordinal: a repeat is harmless);
  3. the commit;
  4. what needs the commit (`tx.after_commit`: the lead cache takes the new states).
Around it, the failure policy (failures.py) sends a batch's dead letters and waits for
the DLQ's acknowledgement before returning, and 5. only once the batch handler has
returned does Faust commit the records' offsets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from shared.db import tenants_tx

Publish = Callable[[list[Any]], Awaitable[None]]


@dataclass(slots=True)
class Tx:
    """A transaction of the checkpoint, as the steps see it."""

    conn: asyncpg.Connection
    derived: list[Any] = field(default_factory=list)
    committed: list[Callable[[], None]] = field(default_factory=list)

    def emit(self, messages: list[Any]) -> None:
        """Derived messages, sent and acknowledged before the commit."""
        self.derived.extend(messages)

    def after_commit(self, run: Callable[[], None]) -> None:
        """Work that only a committed transaction may do (never I/O that could fail)."""
        self.committed.append(run)


@asynccontextmanager
async def transaction(
    pool: asyncpg.Pool, tenant_ids: Collection[str], publish: Publish
) -> AsyncIterator[Tx]:
    async with tenants_tx(pool, tenant_ids) as conn:
        tx = Tx(conn)
        yield tx
        if tx.derived:
            await publish(tx.derived)
    for run in tx.committed:
        run()
