"""The main window's tabs (one module each) and the parts only they use."""
