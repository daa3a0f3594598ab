"""gsmbridge: CometChat's custom SMS provider, sending through a USB GSM modem."""

__version__ = "0.1.0"
