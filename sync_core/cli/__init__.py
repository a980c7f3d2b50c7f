"""``python -m sync_core``: the command line over the same service the dashboard uses.

Every command answers a :class:`~sync_core.cli.output.CommandResult`; ``--json`` prints it in
one envelope for every verb (see :mod:`sync_core.cli.output`), otherwise as text. Modules are
imported when their command runs, so a command that never talks to QuickBooks never loads it.
"""

from sync_core.cli.main import main

__all__ = ["main"]
