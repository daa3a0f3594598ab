"""Help menu helpers: the user guide (the README, shown in the app) and the log folder.

The guide is read from the README next to the package (a checkout, or a bundle
that ships it), else from the installed package's metadata (pip puts the README
there as the long description).  It is shown in the app rather than handed to
the desktop: Windows has no program for ``.md`` files by default.
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import gsmbridge
from gsmbridge.logs import log_dir

log = logging.getLogger(__name__)

README = "README.md"


def readme_candidates() -> list[Path]:
    """Where a README may be: a PyInstaller bundle's root, the checkout above the package."""
    places = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        places.append(Path(bundle) / README)
    places.append(Path(gsmbridge.__file__).resolve().parent.parent / README)
    return places


def find_user_guide() -> tuple[str, Path | None]:
    """(Markdown text, the folder its images are relative to); ("", None) if there is none."""
    for path in readme_candidates():
        try:
            return path.read_text(encoding="utf-8"), path.parent
        except OSError:
            continue
    try:
        text = importlib.metadata.metadata("gsmbridge").get_payload() or ""
    except importlib.metadata.PackageNotFoundError:
        text = ""
    return (str(text), None) if str(text).strip() else ("", None)


class UserGuide(QDialog):
    """The README rendered; links open in the browser.

    Signals: those of QDialog.
    """

    def __init__(self, text: str, base: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("gsmbridge user guide")
        self.resize(860, 720)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        if base is not None:
            self.browser.setSearchPaths([str(base)])  # the screenshots
        self.browser.setMarkdown(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


def show_user_guide(parent: QWidget) -> UserGuide | None:
    text, base = find_user_guide()
    if not text:
        QMessageBox.information(
            parent,
            "User guide",
            "The user guide (README.md) is not included in this installation; "
            "it comes with gsmbridge's source code.",
        )
        return None
    dialog = UserGuide(text, base, parent)
    dialog.show()
    return dialog


def open_log_folder(parent: QWidget, data_dir: Path) -> bool:
    """Open the log folder in the file manager; say where it is if that fails."""
    folder = log_dir(data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)  # an empty folder beats "not found"
    except OSError as exc:
        log.warning("Log folder %s cannot be created: %s", folder, exc)
    if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        return True
    QMessageBox.warning(
        parent,
        "Open log folder",
        f"No file manager could open the log folder. It is:\n{folder}",
    )
    return False
