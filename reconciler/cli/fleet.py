"""A command over several accounts, presented grouped by account (docs/fleet.md).

:class:`Fleet` runs each account's use case through :func:`reconciler.fleet.run_accounts`
(``validate``, ``plan`` and ``drift``: over worker processes, :mod:`reconciler.fleet_workers`)
and prints each account's output as one group as it finishes, or one JSON document at the
end, then the one-line summary. A worker makes what is shown of its accounts
(:meth:`Fleet.view`, secrets masked there); this process prints and writes it
(:meth:`Fleet.deliver`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.output import error_json, told_to_stop
from reconciler.errors import ConfigError, ReconcilerError, ValidationFailed
from reconciler.secret import redact
from reconciler.session import Session

if TYPE_CHECKING:
    from reconciler.apply.applier import Stop
    from reconciler.fleet import Account, AccountRun, Shard


@dataclass
class Fleet:
    """One command over several accounts: runs each account's use case through
    :func:`reconciler.fleet.run_accounts` or :func:`reconciler.fleet_workers.run_in_workers`,
    prints each account's output as one group as it finishes (text, markdown) or one JSON
    document at the end, writes the reports, and returns the most severe exit code."""

    command: str
    paths: Sequence[Path]
    parallel: int
    shard: Shard | None
    report_dir: Path | None
    fmt: str = "text"
    documents: list[dict[str, Any]] = field(default_factory=list)
    # apply's Ctrl-C: set while the applies run (see _execute in reconciler/cli/apply.py).
    stop: Stop | None = None

    def accounts(self) -> list[Account]:
        from reconciler.fleet import accounts_of, shard_of

        accounts = accounts_of(self.paths)
        if self.shard is not None:
            accounts = shard_of(accounts, self.shard)
        if (
            self.report_dir is not None
            and self.report_dir.exists()
            and not self.report_dir.is_dir()
        ):
            raise ConfigError(
                f"--report-dir {self.report_dir}: not a directory",
                hint="give --report-dir a directory (it is created if missing)",
            )
        if self.report_dir is not None:
            # Made before any account is read (a shard may have none: its CI job still
            # uploads the directory); a directory that can't be made fails at once.
            try:
                self.report_dir.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise ConfigError(
                    f"--report-dir {self.report_dir}: cannot make it: {err.strerror or err}",
                    hint="give --report-dir a directory you can write to",
                ) from None
        return accounts

    def sessions(self, session: Session, accounts: Sequence[Account]) -> dict[str, Session]:
        """Each account's session: with several PATHs its own working directory
        (``.reconciler/accounts/NAME/``: journal, lock, simulated account), with one PATH
        the usual ``.reconciler/``."""
        if len(self.paths) == 1:
            return {a.name: session for a in accounts}
        root = session.settings.workdir
        return {a.name: session.for_account(a.name, a.workdir(root)) for a in accounts}

    def run(
        self,
        accounts: Sequence[Account],
        work: Callable[[Account], Awaitable[Any]],
        code_of: Callable[[Any], int],
        render: Callable[[Any], str],
        *,
        final: bool = True,
        stoppable: bool = False,
        preload: Callable[[], None] | None = None,
    ) -> list[AccountRun[Any]]:
        """Run ``work`` for each account; ``final``: these runs are the accounts' last word
        (reported, and kept for the JSON document), not a first phase (apply's plans).
        ``stoppable``: the applies run under a :class:`~reconciler.apply.applier.Stop`
        (:attr:`stop`): the first Ctrl-C or SIGTERM lets every account finish what is in
        flight and report (the accounts not started yet start nothing), the second stops at
        once. ``preload`` is called before worker processes are forked, to import what
        every worker would otherwise import on its own (:meth:`Session.preload`)."""
        import asyncio

        from reconciler import eventloop
        from reconciler.fleet import run_accounts
        from reconciler.fleet_workers import run_in_workers, worker_count

        def done(run: AccountRun[Any]) -> AccountRun[Any] | None:
            shown = final or run.error is not None
            kept = self.deliver(run, self.view(run, render, final=shown, report=shown))
            # apply's plans: the second phase needs them
            return kept if final else None

        # The read-only commands use the machine's cores (reconciler/fleet_workers.py);
        # apply stays in this process: one Stop answers Ctrl-C for all its accounts.
        workers = worker_count(self.parallel, len(accounts)) if final and not stoppable else 1
        if workers > 1:
            if preload is not None:
                preload()
            return run_in_workers(
                accounts,
                work,
                code_of,
                parallel=self.parallel,
                workers=workers,
                present=lambda run: self.view(run, render, final=True, report=True),
                on_done=self.deliver,
            )

        async def all_accounts() -> list[AccountRun[Any]]:
            going = run_accounts(accounts, work, code_of, parallel=self.parallel, on_done=done)
            if not stoppable:
                return await going
            from reconciler.apply.applier import Stop

            with Stop(on_signal=told_to_stop) as self.stop:
                return await going

        try:
            return eventloop.run(all_accounts())
        except asyncio.CancelledError:  # the second Ctrl-C: stopped at once
            raise KeyboardInterrupt from None

    def view(
        self, run: AccountRun[Any], render: Callable[[Any], str], *, final: bool, report: bool
    ) -> dict[str, Any]:
        """What :meth:`deliver` shows and writes of one account's run, made without printing
        (in a worker process, where the run's result is; plain data): ``text`` (with
        ``stderr``) or, for the JSON document, ``document``; and its ``report`` when asked
        for and --report-dir is given."""
        import json

        out: dict[str, Any] = {}
        if report and self.report_dir is not None:
            out["report"] = self.report_of(run)
        name = run.account.name
        err = run.error
        if self.fmt == "json" and final:
            doc: dict[str, Any] = {"account": name, "exit_code": run.code}
            if err is not None:
                doc["error"] = error_json(err)
            else:
                doc["result"] = json.loads(render(run.result))
            out["document"] = doc
            return out
        head = f"## `{name}`" if self.fmt == "markdown" else f"==> {name} ({run.account.path})"
        lines = [head, ""] if self.fmt == "markdown" else [head]
        if err is None:
            for d in getattr(run.result, "warnings", ()):
                lines.append(str(d))
            lines.append(render(run.result).rstrip("\n"))
        elif isinstance(err, ReconcilerError):
            if isinstance(err, ValidationFailed):
                lines.extend(str(d) for d in err.diagnostics)
            lines.append(f"Error: {err.message}")
            if err.hint:
                lines.append(f"  hint: {err.hint}")
        else:
            lines.append(f"Error: internal error: {type(err).__name__}")
        # With --format json, the plans apply shows before its report go to stderr as text.
        out["text"] = redact("\n".join(lines)) + "\n"
        out["stderr"] = self.fmt == "json"
        return out

    def deliver(self, run: AccountRun[Any], view: Mapping[str, Any]) -> AccountRun[Any]:
        """Write one account's report and show its output as one group (or keep its part of
        the JSON document); the run to keep: its outcome without its result (its desired
        state, plan and report), so that memory grows with --parallel, not with the
        accounts."""
        import dataclasses

        from reconciler.report import outcome, write_report

        if "report" in view and self.report_dir is not None:
            write_report(view["report"], self.report_dir)
        if "document" in view:
            self.documents.append(view["document"])
        else:
            click.echo(view["text"], err=bool(view["stderr"]))
        return dataclasses.replace(run, result=None, outcome=outcome(run))

    def report_of(self, run: AccountRun[Any]) -> dict[str, Any]:
        """One account's report (``schemas/report.schema.json``)."""
        from reconciler.report import account_report

        shard = str(self.shard) if self.shard is not None else None
        return account_report(self.command, run, shard=shard)

    def report(self, run: AccountRun[Any]) -> None:
        """Write one account's report, with --report-dir."""
        if self.report_dir is not None:
            from reconciler.report import write_report

            write_report(self.report_of(run), self.report_dir)

    def show(self, run: AccountRun[Any], render: Callable[[Any], str], *, final: bool) -> None:
        """Show one account's output as one group (with --format json, keep its part of the
        document; the plans apply shows before its report go to stderr as text)."""
        self.deliver(run, self.view(run, render, final=final, report=False))

    def finish(self, runs: Sequence[AccountRun[Any]]) -> int:
        """Print the JSON document (json) and the one-line summary (stderr); the most
        severe exit code."""
        import json

        from reconciler.errors import most_severe
        from reconciler.report import render_run_summary

        code = most_severe(r.code for r in runs)
        if self.fmt == "json":
            doc: dict[str, Any] = {
                "accounts": sorted(self.documents, key=lambda d: str(d["account"])),
                "exit_code": code,
            }
            click.echo(redact(json.dumps(doc, indent=2)))
        shard = str(self.shard) if self.shard is not None else None
        click.echo(render_run_summary(self.command, runs, shard, code), err=True)
        return code
