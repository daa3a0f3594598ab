"""The desktop app (PySide6).  The only package that imports Qt.

``app.run`` is the entry point; ``bridge`` turns the core's listener calls
into queued Qt signals; ``models`` are the Qt models over the store; the
widgets live in ``views``.
"""
