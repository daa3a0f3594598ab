"""Views: the main window, its tabs and dialogs (PySide6 widgets)."""
