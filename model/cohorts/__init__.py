"""Cohort sources other than the simulator: importers that write the cohort directory (§6)."""
