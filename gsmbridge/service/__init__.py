"""The running service, the same for the window and headless mode.

``bridge``: the Bridge, which composes the parts, starts and stops them;
``modems``: the modems it sends through; ``status``: what ``/api/status`` says.
"""

from gsmbridge.service.bridge import DB_NAME, Bridge

__all__ = ["DB_NAME", "Bridge"]
