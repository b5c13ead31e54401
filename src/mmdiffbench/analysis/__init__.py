"""Analyses of trained models beyond ranking metrics (the case study of DiffMM Fig. 5)."""
