"""Reports: tables, figures and the reproduction summary, from run folders, the experiment
registry (mmdiffbench.experiments) and the papers' numbers; never a model module or torch.

mmdiffbench.collect reads metrics.json files into a tidy DataFrame (below this package: the
tuning grids read it too); tables.py and figures.py render one experiment each (CSV + PNG,
PNG + PDF); reproduction.py writes results/<scale>/reproduction.md;
paper.py loads the papers' tables shipped as CSV in paper_tables/ (never used to compute ours);
notes.py says per row how our setting differs from the paper's; provenance.py which other
published tables print the same baseline numbers as the paper; claims.py the papers' headline
claims (claim_specs.py) rechecked on our runs, judged by verdicts.py with significance.py's tests.
"""
