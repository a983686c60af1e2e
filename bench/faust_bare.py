"""A Faust app that only iterates a topic and counts: the floor a Faust worker stands on.

Run by bench.run as `python -m bench.faust_bare TOPIC EXPECTED`. It is configured like the
Tandem worker (raw serializers, the same buffer and commit settings, uvloop), so that SPEC 12's
comparison (processing at least 0.6 times the bare iteration rate) is like for like. When
it has seen EXPECTED records it prints one JSON line and waits to be stopped.
"""

from __future__ import annotations

import os
import sys
import time

import faust
import mode.loop
import orjson

from shared.settings import load_settings

topic_name, expected = sys.argv[1], int(sys.argv[2])
app = faust.App(
    os.environ["BENCH_FAUST_APP_ID"],
    broker=f"kafka://{load_settings().kafka_bootstrap}",
    value_serializer="raw",
    key_serializer="raw",
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    topic_disable_leader=False,
    broker_commit_interval=1.0,
    stream_buffer_maxsize=8_192,
    datadir=os.environ["BENCH_FAUST_DATADIR"],
)
topic = app.topic(topic_name, key_type=bytes, value_type=bytes)


@app.agent(topic)
async def count(stream: faust.StreamT[bytes]) -> None:
    seen = 0
    first = 0.0
    async for _ in stream:
        if seen == 0:
            first = time.perf_counter()
        seen += 1
        if seen == expected:
            seconds = time.perf_counter() - first
            # Timed from the first record, so group join and assignment are not counted.
            result = {"records": seen - 1, "seconds": seconds, "rate": (seen - 1) / seconds}
            print(orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    mode.loop.use("uvloop")
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
