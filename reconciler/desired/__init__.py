"""Desired state: load, validate and model the YAML (DESIGN.md §2)."""
