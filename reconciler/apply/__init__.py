"""Apply: execute a Plan safely, with a journal and a lock (docs/commands.md, Apply)."""
