"""Command-line subcommands that need the app's settings (above ``core``).

``gsmbridge/__main__.py`` builds the parser; modules here register their commands.
``modem.py`` has the modem-level ones (``modem list``, ``simulate-modem``),
which need no settings.
"""
