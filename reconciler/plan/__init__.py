"""Plan: typed changes, the planner, safety checks and renderers (DESIGN.md §4)."""
