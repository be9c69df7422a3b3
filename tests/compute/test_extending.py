"""docs/architecture.md's "To add ..." table, tried: in a copy of the repository, a throwaway
corruption, pruning method, architecture and metric are added by touching only the files their
row names, and both fast lanes pass there. A pinned list, a hard-coded count or a hand-written
table that the registries should drive fails this test with the lane's own message."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_PYTHON = ROOT / ".venv-app" / "bin" / "python"

CORRUPTION = '''

@register("throwaway_invert", "extra", [0.1, 0.2, 0.3, 0.4, 0.5], benchmark=False, random=False,
          reference=None)
def throwaway_invert(x: torch.Tensor, amount: float, rng: SampleRandom) -> torch.Tensor:
    return x + amount * (1 - 2 * x)
'''

METHOD = '''

@register("throwaway_oneshot")
def throwaway_oneshot(params: Sparsity, probe: Probe, ctx: Context) -> Masks:
    masks = magnitude_masks(probe.net, params.sparsity)
    apply_masks(probe.net, masks)
    return masks
'''

ARCHITECTURE = '''

@register("throwaway_mlp")
def throwaway_mlp(num_classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(48, 32), nn.ReLU(),
                         nn.Linear(32, num_classes))
'''

# (file, text to find, text to put after it): the metric's definition in compute, its catalogue
# entry, the schema version, and its independent definition the tests hold compute to.
METRIC_EDITS = [
    ("compute/geometry.py", '"entropy": -(p * log_p).nan_to_num().sum(dim=1),',
     '\n            "max_logit": logits.max(dim=1).values,'),
    ("store/catalogue.py",
     'Metric("entropy", "FLOAT", "entropy of the softmax", "nats", True, False, "lower"),',
     '\n    Metric("max_logit", "FLOAT", "largest logit", "", True, False, "higher"),'),
    ("tests/support/geometry.py", 'out["entropy"].append(-(p * log_p).sum())',
     '\n        out["max_logit"].append(z[i].max())'),
]

ADDITIONS = {
    "corruption": [("compute/corruptions/extra.py", None, CORRUPTION)],
    "pruning method": [("compute/pruning/magnitude.py", None, METHOD)],
    "architecture": [("compute/models.py", None, ARCHITECTURE)],
    "metric": METRIC_EDITS,
}


def _copy(target: Path) -> None:
    """The repository's files as git sees them (tracked and untracked, not ignored ones)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _edit(root: Path, path: str, anchor: str | None, text: str) -> None:
    file = root / path
    content = file.read_text(encoding="utf-8")
    if anchor is None:
        file.write_text(content.rstrip("\n") + "\n" + text, encoding="utf-8")
        return
    assert content.count(anchor) == 1, f"{path} no longer holds {anchor!r}: update this test"
    file.write_text(content.replace(anchor, anchor + text), encoding="utf-8")


def _rows(doc: str) -> dict[str, str]:
    """The "To add ..." table: what is added -> its "touch" cell."""
    section = doc.split("## To add ...", 1)[1].split("\n## ", 1)[0]
    return {cells[1].strip(): cells[2] for line in section.splitlines()
            if line.startswith("| ") and len(cells := line.split("|")) > 3}


def _version_bumped(root: Path) -> str:
    schema = root / "store" / "schema.py"
    text = schema.read_text(encoding="utf-8")
    version = re.search(r'SCHEMA_VERSION = "(\d+)"', text)
    schema.write_text(text.replace(version.group(0), f'SCHEMA_VERSION = "{int(version.group(1)) + 1}"'),
                      encoding="utf-8")
    return "store/schema.py"


@pytest.mark.slow
def test_the_documented_files_are_all_it_takes(tmp_path):
    if not APP_PYTHON.exists():
        pytest.skip("needs .venv-app (bash scripts/test.sh makes it)")
    copy = tmp_path / "repo"
    _copy(copy)
    if (ROOT.parent / "shared").is_dir():  # the lanes find ../shared beside the copy as here
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    rows = _rows((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    touched: set[str] = set()
    for what, edits in ADDITIONS.items():
        files = {path for path, _, _ in edits} | ({_version_bumped(copy)} if what == "metric" else set())
        for path, anchor, text in edits:
            _edit(copy, path, anchor, text)
        undocumented = [f for f in files if f"`{f}`" not in rows[what]]
        assert undocumented == [], f"docs/architecture.md's row for a {what} does not name {undocumented}"
        touched |= files
    # The docs' corruption table is generated, not written: regenerate it as the row says.
    subprocess.run([sys.executable, "scripts/corruption_table.py"], cwd=copy, check=True,
                   timeout=120)
    lanes = [
        [sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider",
         "tests/compute"],
        [str(APP_PYTHON), "-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider",
         "tests/code", "tests/store", "tests/app"],
    ]
    for lane in lanes:
        result = subprocess.run(lane, cwd=copy, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, (f"after adding a throwaway {', '.join(ADDITIONS)} "
                                        f"(touching {sorted(touched)}):\n{result.stdout[-4000:]}")
