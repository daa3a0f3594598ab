"""The simulator's tests reuse the modem tests' transports and simulator factory."""

from tests.modem.conftest import sim_factory

__all__ = ["sim_factory"]
