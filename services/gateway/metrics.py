"""Process counters exposed at GET /metrics in the Prometheus text format."""

from __future__ import annotations

from collections import defaultdict


class Counters:
    def __init__(self) -> None:
        self._values: defaultdict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(
            float
        )
        self._help: dict[str, str] = {}

    def describe(self, name: str, help_text: str) -> None:
        self._help[name] = help_text

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        self._values[(name, tuple(sorted(labels.items())))] += amount

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted({n for n, _ in self._values} | set(self._help)):
            lines.append(f"# HELP {name} {self._help.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            for (metric, labels), value in sorted(self._values.items()):
                if metric == name:
                    rendered = ",".join(f'{k}="{v}"' for k, v in labels)
                    lines.append(
                        f"{name}{{{rendered}}} {value:g}" if rendered else f"{name} {value:g}"
                    )
        return "\n".join(lines) + "\n"
