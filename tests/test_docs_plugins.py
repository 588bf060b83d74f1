"""docs/plugins.md: its Python blocks run, in order, in one namespace; its examples pass the kit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).parents[1] / "docs" / "plugins.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)


def test_blocks_run_in_order() -> None:
    blocks = python_blocks()
    assert len(blocks) >= 8
    ns: dict[str, object] = {"__name__": "plugins_guide"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{GUIDE.name} block {i + 1}", "exec"), ns)  # noqa: S102 - our own guide
    assert ns["dealersync_register_sources"]() == [ns["AcmeDms"], ns["AcmeCrm"]]  # type: ignore[operator]
    assert ns["dealersync_register_destinations"]() == [ns["AcmeFile"], ns["AcmeAds"]]  # type: ignore[operator]
    assert [f.name for f in ns["dealersync_register_features"]()] == ["acme_vip"]  # type: ignore[operator]


@pytest.mark.slow
def test_the_guide_examples_pass_the_kit(tmp_path: Path) -> None:
    """The guide's connectors and test classes, run as a vendor's test file (not installed, so the
    discovery check is left out)."""
    test_file = tmp_path / "test_guide.py"
    test_file.write_text("\n\n".join(python_blocks()), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not discoverable", str(test_file)],
        cwd=tmp_path, check=False, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert re.search(r"\d+ passed", proc.stdout) and "failed" not in proc.stdout
