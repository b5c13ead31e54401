"""Model declarations (the `declare:` section of each model's YAML) and the lazy registry:
planning the workflow and writing reports import neither torch nor a model module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mmdiffbench.config import declaration, list_variants
from mmdiffbench.models import MODELS, get_model_class
from tests._workflow_helpers import REPO, env


@pytest.mark.parametrize("name", sorted(MODELS))
def test_declaration_agrees_with_the_registered_class(name: str) -> None:
    declared = declaration(name)
    assert get_model_class(name).requires_features is declared["requires_features"]
    assert declared["label"] and declared["label"] != name  # the printed name, e.g. DiffMM


NO_TORCH = """
import sys, yaml
from mmdiffbench.plan import build_plan
config = yaml.safe_load(open("config.yaml"))
config["data_dir"] = "nodata"
plan = build_plan(config)
assert plan.runs and plan.skipped
{extra}
heavy = sorted(m for m in sys.modules if m == "torch" or m.startswith("mmdiffbench.models."))
print("imported:", heavy)
"""


def _imports(extra: str = "") -> str:
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH.format(extra=extra)],
        check=False,
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_planning_imports_neither_torch_nor_a_model() -> None:
    """The plan (runs keyed by resolved settings) and its cost estimate, as common.smk makes them."""
    extra = (
        "from mmdiffbench.costs import estimate\n"
        "sizes = {d: info.get('size', 'large') for d, info in config['datasets'].items()}\n"
        "assert estimate(plan.runs, sizes, 'cpu').seconds > 0"
    )
    assert "imported: []" in _imports(extra)


def test_report_imports_neither_torch_nor_a_model() -> None:
    """`mmdiffbench report` (what the report rules run) on a plan whose cells are all left out (its
    runnable ones dropped: there are no run folders here)."""
    extra = (
        "import pathlib, tempfile\n"
        "from mmdiffbench.cli import main\n"
        "out = pathlib.Path(tempfile.mkdtemp())\n"
        "table = plan.experiments['ld4mrec.table3']\n"
        "table.cells = []\n"
        "(out / 'plan.json').write_text(table.to_json())\n"
        "assert main(['report', str(out / 'plan.json'), '--out-dir', str(out)]) == 0\n"
        "assert (out / 'ld4mrec.table3.csv').is_file()"
    )
    assert "imported: []" in _imports(extra)


def test_the_readmes_model_table_lists_every_registered_model_as_declared() -> None:
    """README.md's `## Models` table is typed by hand: a model added or a variant renamed shows here."""
    lines = (REPO / "README.md").read_text().splitlines()
    start = lines.index("| name | what | data | variants besides `full` | config |") + 2
    rows = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        name, _what, data, variants, config = (cell.strip().strip("`") for cell in line.strip("|").split("|"))
        rows[name] = (data, variants, config)
    assert sorted(rows) == sorted(MODELS)
    for name, (data, variants, config) in rows.items():
        listed = ", ".join(f"`{v}`" for v in list_variants(name) if v != "full") or "-"
        assert data == ("features" if declaration(name)["requires_features"] else "ID only"), name
        assert variants == listed.strip("`"), name
        assert config == f"src/mmdiffbench/configs/{name}.yaml" and (REPO / config).is_file(), name
