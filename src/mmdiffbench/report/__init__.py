"""Reports: tables, figures and the reproduction summary, from run folders and the papers' numbers.

collect.py reads metrics.json files into a tidy DataFrame; tables.py and figures.py render one
experiment each (CSV + PNG, PNG + PDF); reproduction.py writes results/reproduction.md;
paper.py loads the papers' tables shipped as CSV in paper_tables/ (never used to compute ours).
"""

from mmdiffbench.report.collect import PROTOCOLS, summarize, tidy_groups, tidy_metrics

__all__ = ["PROTOCOLS", "summarize", "tidy_groups", "tidy_metrics"]
