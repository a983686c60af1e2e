"""The worker's pure policy pieces: burst accounting, tenant shares and lock keys."""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError, UnknownTopicOrPartitionError

from services.workers.failures import TenantBursts, is_transient, tenant_shares
from services.workers.records import Incoming, Source
from shared.locks import lock_key


def test_a_tenant_is_in_a_burst_only_past_its_own_limit() -> None:
    bursts = TenantBursts(window=20, max_ratio=0.5)
    assert bursts.record("a", good=5, bad=10) is None  # 10 failures: at the limit, not past
    assert bursts.record("b", good=0, bad=8) is None  # another tenant's failures are its own
    assert bursts.record("a", good=0, bad=1) == 11
    assert bursts.record("b", good=0, bad=2) is None


def test_old_outcomes_leave_the_window() -> None:
    bursts = TenantBursts(window=10, max_ratio=0.5)
    assert bursts.record("a", good=0, bad=5) is None
    assert bursts.record("a", good=10, bad=0) is None  # the five failures slid out
    assert bursts.record("a", good=0, bad=5) is None
    assert bursts.record("a", good=0, bad=1) == 6


def test_a_forgotten_tenant_starts_afresh() -> None:
    bursts = TenantBursts(window=10, max_ratio=0.5)
    assert bursts.record("a", good=0, bad=9) == 9
    bursts.forget("a")
    assert bursts.record("a", good=0, bad=1) is None


def test_tenants_without_failures_are_not_followed() -> None:
    bursts = TenantBursts(window=10, max_ratio=0.1)
    assert bursts.record("a", good=1_000, bad=0) is None
    assert bursts.record("a", good=0, bad=1) is None  # one failure in a fresh window
    assert bursts.record("a", good=0, bad=1) == 2


def test_lock_keys_are_per_tenant_kind_and_id_and_64_bit() -> None:
    keys = {
        lock_key(tenant, kind, name)
        for tenant in ("acme", "beta", "acme:x")
        for kind in ("lead", "anon")
        for name in ("L-1", "x:L-1", "L-2")
    }
    assert len(keys) == 18
    assert lock_key("acme", "lead", "L-1") == lock_key("acme", "lead", "L-1")
    assert all(-(2**63) <= k < 2**63 for k in keys)


def _incoming(tenant: str, n: int) -> Incoming:
    event = {"tenant_id": tenant, "event_id": f"{tenant}-{n}"}
    return Incoming(event, Source("touchpoints.v1", 0, n, None), tenant)


def test_a_tenant_gets_a_bounded_share_of_each_round_and_keeps_its_order() -> None:
    batch = [_incoming("big", i) for i in range(7)] + [_incoming("small", i) for i in range(2)]
    rounds = tenant_shares(batch, 3)
    assert [[i.event["event_id"] for i in r] for r in rounds] == [
        ["big-0", "big-1", "big-2", "small-0", "small-1"],
        # Nobody else is left: the rest is one round, not one per share.
        ["big-3", "big-4", "big-5", "big-6"],
    ]
    mixed = [_incoming(t, i) for i in range(7) for t in ("a", "b")] + [_incoming("a", 9)]
    assert [len(r) for r in tenant_shares(mixed, 3)] == [6, 6, 3]
    alone = [_incoming("solo", i) for i in range(10)]
    assert tenant_shares(alone, 3) == [alone]
    assert tenant_shares([], 3) == []


def test_no_round_exceeds_the_transaction_bound_and_order_is_kept() -> None:
    alone = [_incoming("solo", i) for i in range(10)]
    assert [len(r) for r in tenant_shares(alone, 3, most=4)] == [4, 4, 2]
    assert [i for r in tenant_shares(alone, 3, most=4) for i in r] == alone
    crowd = [_incoming(f"t{t}", i) for i in range(2) for t in range(5)]
    rounds = tenant_shares(crowd, 3, most=4)
    assert [len(r) for r in rounds] == [4, 4, 2]
    assert [i for r in rounds for i in r] == crowd


def test_outages_are_waited_out_and_content_errors_are_not() -> None:
    assert is_transient(ConnectionRefusedError())
    assert is_transient(asyncpg.PostgresConnectionError())
    assert is_transient(UnknownTopicOrPartitionError())  # retriable: a broker restarting
    assert not is_transient(asyncpg.UntranslatableCharacterError())
    assert not is_transient(OverflowError("date value out of range"))
    assert not is_transient(KafkaError())
