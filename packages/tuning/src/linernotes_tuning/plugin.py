"""Entry point of linernotes-tuning: adds the ``feedback``, ``prefs`` and ``tune`` commands."""

from linernotes import hookimpl


@hookimpl
def register_commands(cli):
    from .feedback_cli import feedback_app
    from .tuning_cli import prefs_app, tune_app

    cli.add_typer(feedback_app, name="feedback")
    cli.add_typer(prefs_app, name="prefs")
    cli.add_typer(tune_app, name="tune")
