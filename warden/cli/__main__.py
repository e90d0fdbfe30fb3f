"""`python -m warden.cli`: the same as the `warden` command."""

from . import app

app()
