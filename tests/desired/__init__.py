"""Tests of the desired-state loader, validator and model (issue 3)."""
