"""The command line: it parses, calls a use case, renders, prints and exits.

Each command parses its options, calls :mod:`reconciler.operations` (one account) or
:mod:`reconciler.fleet` (several), hands the result to a renderer, prints, and returns its exit
code: 0 nothing to change, 2 changes pending, 3 refused by a safety rule, 1 any error
(docs/commands.md). An error is mapped to its code in one place,
:func:`reconciler.cli.output.exit_on`, through :func:`reconciler.errors.exit_code_for`. Global
options (``--simulate``, ``-v``, ``--no-color``, ``--concurrency``...) are accepted before and
after the command name (:mod:`reconciler.cli.options`).

This package is the only place that prints. One module per command family (``validate``,
``plan``, ``apply``, ``drift``, ``export``, ``report``, ``doctor``, ``schema``, ``simulator``);
``options`` (the shared options and the validator of every numeric one), ``output`` (errors,
exit codes, progress, colour, logging), ``files`` (the files commands write when asked) and
``fleet`` (a run over several accounts, shown grouped by account).

The use cases and renderers pull in asyncio, httpx, jsonschema and deepdiff (about 0.3 s), so
each command imports what it needs in its body: ``reconciler --version`` and ``--help`` load
only click and these modules.
"""

from __future__ import annotations

import json
import os
import sys

import click

from reconciler import __version__
from reconciler.cli import (
    apply,
    doctor,
    drift,
    export,
    plan,
    report,
    schema,
    simulator,
    validate,
)
from reconciler.cli.options import current_settings, global_options
from reconciler.cli.output import exit_on, redacted_output
from reconciler.errors import EXIT_ERROR, ReconcilerError
from reconciler.secret import redact

__all__ = ["cli", "main"]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Docs: README.md (a tour) and docs/ in the reconciler repository; "
    "docs/commands.md has every command.",
)
@click.version_option(__version__, "--version", prog_name="reconciler")
@global_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """GitOps for telephony: Aculab Cloud numbers and services, aql SMS relay routes.

    Exit codes: 0 success, nothing to change; 2 changes pending; 3 refused by a safety rule;
    1 any error.
    """
    current_settings(ctx)
    # The one place that prints masks what it prints: every secret this command meets, in
    # whatever field or format it ends up (docs/security.md).
    ctx.with_resource(redacted_output())


# Each family's command, in its own module (``reconciler --help`` lists them sorted).
cli.add_command(validate.validate)
cli.add_command(plan.plan)
cli.add_command(apply.apply)
cli.add_command(drift.drift)
cli.add_command(report.report)
cli.add_command(export.export)
cli.add_command(schema.schema)
cli.add_command(doctor.doctor)
cli.add_command(simulator.simulator)


def main() -> None:
    """Console-script entry point.

    Click's own usage errors exit 1 here, not click's default 2: exit code 2 means "changes
    pending" in reconciler (docs/commands.md).
    """
    from reconciler.secret import Redactor

    # One redactor per command: every secret the command meets is masked in all it prints,
    # errors included.
    with Redactor().active():
        _main()


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asked for ``--format json`` (read from the words themselves:
    a usage error stops click before it has parsed the option)."""
    for i, word in enumerate(args):
        if word == "--format=json" or (word == "--format" and args[i + 1 : i + 2] == ["json"]):
            return True
    return False


def _main() -> None:
    try:
        rv = cli.main(prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        if _wants_json(sys.argv[1:]):  # a CI parser gets its document for a usage error too
            usage = {"message": redact(exc.format_message()), "hint": "see --help"}
            click.echo(json.dumps({"error": usage}, indent=2, sort_keys=True))
        sys.exit(EXIT_ERROR)
    except (ReconcilerError, KeyboardInterrupt) as err:  # raised outside a command's body
        exit_on(err)
    except Exception as err:  # the last guard: report, never a bare traceback
        if os.environ.get("RECONCILER_DEBUG"):
            raise
        # Only the type: an exception's text could carry a value we must not print.
        click.echo(f"Error: internal error: {type(err).__name__}", err=True)
        click.echo("  hint: set RECONCILER_DEBUG=1 and report the traceback", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(rv if isinstance(rv, int) else 0)
