"""Evaluation: metrics, DeLong test, patient-level bootstrap, subgroups, report and plots."""
