"""Dialogs the window opens (settings and the wizard have packages of their own)."""
