"""Scoring engine: gather a patient's window, predict, record, queue the write-back."""
