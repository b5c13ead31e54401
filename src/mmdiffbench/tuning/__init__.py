"""Hyper-parameters chosen on validation: the grids of the registry's `tune.<model>` entries.

grid: the grid's scores per cell (validation chooses; test is shown, never used) and the choice.
presets: the choice written into the model YAML's `presets.<dataset>`, comments kept.
cli: `mmdiffbench tune choose results/paper/plan/tune.<model>.json [--write]`.
"""


class TuningError(ValueError):
    """A grid that cannot choose (runs missing, smoke-scale runs); the message says which."""
