"""Training: batching, the loop with early stopping, and the cohort-to-checkpoint pipeline."""
