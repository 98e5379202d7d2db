"""Measuring metrics (agreement with human judgments) and summarizers (ROUGE, QUALS, significance)."""
