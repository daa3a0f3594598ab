"""The setup wizard (first run, or from the menu): a module per page."""

from gsmbridge.gui.views.wizard.dialog import SetupWizard, apply_live

__all__ = ["SetupWizard", "apply_live"]
