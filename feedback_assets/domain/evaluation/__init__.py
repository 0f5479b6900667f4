"""Comparing a retrained candidate with the current model: scores, the paired test, the verdict."""
