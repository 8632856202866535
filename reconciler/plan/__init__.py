"""Plan: typed changes, the planner, safety checks and renderers (docs/commands.md, Plan)."""
