"""The public tunnel: cloudflared or ngrok, self-check, self-registration in CometChat.

Qt-free.  ``TunnelManager`` is the entry point; ``programs`` holds the pure
parsers of the programs' output and local APIs.
"""

from gsmbridge.tunnel.manager import TunnelManager
from gsmbridge.tunnel.registration import RegistrationResult, register_provider
from gsmbridge.tunnel.selfcheck import CheckResult, check_health
from gsmbridge.tunnel.status import TunnelOptions, TunnelStatus

__all__ = [
    "CheckResult",
    "RegistrationResult",
    "TunnelManager",
    "TunnelOptions",
    "TunnelStatus",
    "check_health",
    "register_provider",
]
