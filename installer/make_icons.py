"""Render gsmbridge/gui/resources/gsmbridge.svg to the raster icons the installers need.

Writes resources/icons/hicolor/<N>x<N>/apps/gsmbridge.png (Linux icon theme sizes) and
resources/gsmbridge.ico (Windows: exe, installer, shortcuts).  The outputs are committed,
so a build needs no renderer; run this again after changing the SVG:

    QT_QPA_PLATFORM=offscreen python installer/make_icons.py
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "gsmbridge" / "gui" / "resources" / "gsmbridge.svg"
HICOLOR = ROOT / "resources" / "icons" / "hicolor"
ICO = ROOT / "resources" / "gsmbridge.ico"
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 256)  # what Explorer and the taskbar ask for


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stub says bytes; str works
    buffer.close()
    return bytes(data.data())


def dib_bytes(image: QImage) -> bytes:
    """A 32-bit BGRA DIB as ICO wants it: bottom-up rows, then an all-zero AND mask.

    Small sizes as DIBs rather than PNGs: some tools (and old resource compilers) only
    accept PNG for the 256 px entry.
    """
    size = image.width()
    argb = image.convertToFormat(QImage.Format.Format_ARGB32)  # BGRA bytes in memory (LE)
    rows = [bytes(argb.constScanLine(y))[: size * 4] for y in range(size)]  # type: ignore[call-overload]
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    mask_row = b"\0" * (((size + 31) // 32) * 4)
    return header + b"".join(reversed(rows)) + mask_row * size


def ico_bytes(images: dict[int, QImage]) -> bytes:
    entries = [(s, png_bytes(img) if s >= 256 else dib_bytes(img)) for s, img in images.items()]
    out = struct.pack("<HHH", 0, 1, len(entries))
    offset = 6 + 16 * len(entries)
    for size, blob in entries:
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        out += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        offset += len(blob)
    return out + b"".join(blob for _, blob in entries)


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - fonts, paint
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"cannot render {SVG}", file=sys.stderr)
        return 1
    for size in PNG_SIZES:
        path = HICOLOR / f"{size}x{size}" / "apps" / "gsmbridge.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(render(renderer, size)))
        print(f"wrote {path.relative_to(ROOT)}")
    ICO.write_bytes(ico_bytes({s: render(renderer, s) for s in ICO_SIZES}))
    print(f"wrote {ICO.relative_to(ROOT)} ({', '.join(map(str, ICO_SIZES))} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
