"""Where the worker's CPU went, by processing step, from py-spy's collapsed stacks.

Each sample is attributed to the first step, in the order below, that one of its frames
belongs to: time inside asyncpg is the client side of a statement whichever step sent it,
and time in the Kafka client or Faust counts as the consumer's only when no step of ours
is on the stack.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

# (step, a substring of a frame that places a sample in it), most specific first.
STEPS: tuple[tuple[str, str], ...] = (
    ("statements (asyncpg: encode, send, decode)", "asyncpg/"),
    ("decode and validate records", "read_record ("),
    ("fold each lead's events (journey, scores)", "fold_lead ("),
    ("accounts", "shared/account_store.py"),
    ("attribution", "attribution"),
    ("rows to write, and what changed", "LeadProjector._write ("),
    ("derived topics", "publish_changes ("),
    ("domain events and event rows", "to_domain_event ("),
    ("domain events and event rows", "_event_row ("),
    ("domain events and event rows", "with_seq ("),
    ("rest of the batch (routing, stitching, locks)", "LeadProjector."),
    ("waiting in epoll (idle)", "EpollSelector.select"),
    ("consumer (Faust, aiokafka)", "aiokafka/"),
    ("consumer (Faust, aiokafka)", "faust/"),
)


def by_step(collapsed: str) -> Counter[str]:
    """Samples per step in py-spy's collapsed ("frame;frame;... count") output."""
    samples: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        step = next((name for name, frame in STEPS if frame in stack), "other (timers, idle loop)")
        samples[step] += int(count)
    return samples


def report(path: Path) -> str:
    samples = by_step(path.read_text())
    total = sum(samples.values()) or 1
    lines = [f"worker samples by step ({total:,} samples, {path.name}):"]
    for step, count in samples.most_common():
        lines.append(f"  {100 * count / total:5.1f} %  {step}")
    return "\n".join(lines)
