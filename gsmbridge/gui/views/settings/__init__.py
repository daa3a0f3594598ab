"""The Settings dialog and its pages (one module per tab)."""

from gsmbridge.gui.views.settings.dialog import SettingsDialog

__all__ = ["SettingsDialog"]
