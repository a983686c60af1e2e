"""The worker's batches in flight (services/workers/inflight.py): the next batch starts
while the last is applied, a batch is acknowledged only once applied, a full set of slots
holds the reader back, and a batch that fails is never acknowledged."""

from __future__ import annotations

import asyncio

import pytest

from services.workers.inflight import InFlight, Turns


class Batch:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.release = asyncio.Event()

    async def handle(self) -> None:
        self.log.append(f"start {self.name}")
        await self.release.wait()
        self.log.append(f"applied {self.name}")

    def acknowledge(self) -> None:
        self.log.append(f"ack {self.name}")


def _never(exc: Exception) -> None:
    raise AssertionError(f"unexpected failure: {exc!r}")


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_next_batch_starts_while_the_last_is_applied() -> None:
    log: list[str] = []
    flight = InFlight(2, _never)
    first, second = Batch("1", log), Batch("2", log)
    await flight.start(first.handle, first.acknowledge)
    await flight.start(second.handle, second.acknowledge)
    await _settle()
    assert log == ["start 1", "start 2"]  # both running, neither acknowledged
    second.release.set()
    await _settle()
    # Finished out of order: acknowledged as it finished, the first still unacknowledged.
    assert log == ["start 1", "start 2", "applied 2", "ack 2"]
    first.release.set()
    await flight.drain()
    assert log[-2:] == ["applied 1", "ack 1"]


async def test_a_full_set_of_slots_holds_the_reader_back() -> None:
    log: list[str] = []
    flight = InFlight(2, _never)
    batches = [Batch(str(n), log) for n in range(3)]
    for b in batches[:2]:
        await flight.start(b.handle, b.acknowledge)
    third = asyncio.create_task(flight.start(batches[2].handle, batches[2].acknowledge))
    await _settle()
    assert not third.done() and "start 2" not in log
    batches[0].release.set()
    await asyncio.wait_for(third, 5)
    await _settle()
    assert log.index("ack 0") < log.index("start 2")
    for b in batches[1:]:
        b.release.set()
    await flight.drain()
    assert sorted(e for e in log if e.startswith("ack")) == ["ack 0", "ack 1", "ack 2"]


async def test_a_lane_never_takes_the_last_slot() -> None:
    """Bulk batches go through a lane of one slot fewer than the worker has: a second bulk
    batch waits for the first, and a live batch starts beside the first at once."""
    log: list[str] = []
    flight = InFlight(2, _never)
    bulk = asyncio.Semaphore(1)
    first, second, live = Batch("bulk 1", log), Batch("bulk 2", log), Batch("live", log)
    await flight.start(first.handle, first.acknowledge, bulk)
    waiting = asyncio.create_task(flight.start(second.handle, second.acknowledge, bulk))
    await _settle()
    assert not waiting.done()
    await asyncio.wait_for(flight.start(live.handle, live.acknowledge), 5)
    await _settle()
    assert log == ["start bulk 1", "start live"]
    live.release.set()
    first.release.set()
    await asyncio.wait_for(waiting, 5)
    second.release.set()
    await flight.drain()
    assert log.index("ack bulk 1") < log.index("start bulk 2")


async def test_a_batch_run_in_place_is_waited_for_and_takes_a_slot() -> None:
    log: list[str] = []
    flight = InFlight(1, _never)
    held = Batch("held", log)
    await flight.start(held.handle, held.acknowledge)
    waited = Batch("waited", log)
    waited.release.set()
    run = asyncio.create_task(flight.run(waited.handle))
    await _settle()
    assert not run.done()  # the one slot is taken
    held.release.set()
    await asyncio.wait_for(run, 5)
    assert log[-1] == "applied waited"


async def test_a_failed_batch_is_never_acknowledged_and_is_fatal() -> None:
    log: list[str] = []
    failures: list[Exception] = []
    flight = InFlight(2, failures.append)

    async def broken() -> None:
        raise RuntimeError("a bug")

    await flight.start(broken, lambda: log.append("ack"))
    await flight.drain()
    assert [str(e) for e in failures] == ["a bug"] and log == []
    # The slot is free again for whatever the fatal handler lets run.
    ok = Batch("after", log)
    ok.release.set()
    await asyncio.wait_for(flight.start(ok.handle, ok.acknowledge), 5)
    await flight.drain()
    assert log == ["start after", "applied after", "ack after"]
    with pytest.raises(RuntimeError):
        await flight.run(broken)


async def test_batches_sharing_a_lead_take_turns_and_the_others_run_side_by_side() -> None:
    turns = Turns()
    log: list[str] = []
    gates = {name: asyncio.Event() for name in ("a", "b", "c")}

    async def batch(name: str, keys: set[str]) -> None:
        async with turns.turn(keys):
            log.append(f"start {name}")
            await gates[name].wait()
            log.append(f"end {name}")

    a = asyncio.create_task(batch("a", {"lead-1", "lead-2"}))
    await _settle()
    b = asyncio.create_task(batch("b", {"lead-2", "lead-3"}))  # shares lead-2 with a
    c = asyncio.create_task(batch("c", {"lead-4"}))  # shares nothing
    await _settle()
    assert log == ["start a", "start c"]
    gates["c"].set()
    await asyncio.wait_for(c, 5)
    assert "start b" not in log
    gates["a"].set()
    await asyncio.wait_for(a, 5)
    await _settle()
    assert log[-1] == "start b"
    gates["b"].set()
    await asyncio.wait_for(b, 5)
    # Every key is free again: a later batch on them starts at once.
    gates["a"].clear()
    again = asyncio.create_task(batch("a", {"lead-1", "lead-3"}))
    await _settle()
    assert log[-1] == "start a"
    gates["a"].set()
    await asyncio.wait_for(again, 5)


async def test_a_turn_is_given_up_when_its_batch_fails() -> None:
    turns = Turns()
    with pytest.raises(RuntimeError):
        async with turns.turn({"lead-1"}):
            raise RuntimeError("failed batch")
    async with asyncio.timeout(5):
        async with turns.turn({"lead-1"}):
            pass
