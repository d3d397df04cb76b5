"""The ``nas`` command's subcommands, one small module per group; each registers on the Typer
app of :mod:`nas.commands._app`. :mod:`nas.cli` imports them all."""
