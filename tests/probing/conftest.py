"""Probing tests run in their own temporary folder: the command's defaults (probe_output/results.jsonl,
probe_output/feature_cache) must never land in the working tree."""

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
