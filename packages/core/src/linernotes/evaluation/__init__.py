"""Offline evaluation on the seeded holdout split."""
