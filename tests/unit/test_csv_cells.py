"""The dashboard's CSV export (web/src/pages/attribution.tsx) keeps formula-like cells as
text: the page's own csvCell, run by node with its type annotations removed."""

from __future__ import annotations

import json
import re
import subprocess

from tests.conftest import REPO

SOURCE = REPO / "web" / "src" / "pages" / "attribution.tsx"


def _cells(values: list[str | float]) -> list[str]:
    text = SOURCE.read_text()
    start = text.index("const FORMULA_START")
    end = text.index("\n}\n", text.index("function csvCell")) + 3
    code = re.sub(r"\(value: string \| number\): string", "(value)", text[start:end])
    script = f"{code}\nconsole.log(JSON.stringify({json.dumps(values)}.map(csvCell)));"
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_formula_like_cells_are_kept_as_text_and_numbers_as_numbers() -> None:
    cells = _cells(['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tx", "\rx",
                    "spring-search", -12.5, 3])  # fmt: skip
    assert cells == [
        '"\'=HYPERLINK(""http://x"",""y"")"',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        '"\'\rx"',
        "spring-search",
        "-12.5",
        "3",
    ]
