"""Reports: tables, figures and the reproduction summary, from run folders, the experiment
registry (mmdiffbench.experiments) and the papers' numbers; never a model module or torch.

collect.py reads metrics.json files into a tidy DataFrame; tables.py and figures.py render one
experiment each (CSV + PNG, PNG + PDF); reproduction.py writes results/<scale>/reproduction.md;
paper.py loads the papers' tables shipped as CSV in paper_tables/ (never used to compute ours);
notes.py says per row how our setting differs from the paper's.
"""

from mmdiffbench.report.collect import PROTOCOLS, summarize, tidy_groups, tidy_metrics

__all__ = ["PROTOCOLS", "summarize", "tidy_groups", "tidy_metrics"]
