"""Apply: execute a Plan safely, with a journal and a lock (DESIGN.md §5)."""
