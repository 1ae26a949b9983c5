"""Tuning tests never touch the user's feedback store."""

import pytest


@pytest.fixture(autouse=True)
def feedback_dir(tmp_path, monkeypatch):
    """``$LINERNOTES_FEEDBACK_DIR`` points at a fresh folder for every test."""
    store = tmp_path / "feedback-store"
    monkeypatch.setenv("LINERNOTES_FEEDBACK_DIR", str(store))
    return store
