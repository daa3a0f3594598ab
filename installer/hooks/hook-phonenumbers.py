"""phonenumbers loads its metadata modules by name, so they are listed here; this hook
replaces the contrib one, which takes them all.  gsmbridge parses, validates and formats
numbers: it needs the numbering plans, not the geocoding, carrier and time zone tables
(40 MB of source).  tests/test_installer.py checks that gsmbridge imports none of them.
"""

from PyInstaller.utils.hooks import collect_submodules

UNUSED = tuple(
    f"phonenumbers.{name}"
    for name in ("carrier", "carrierdata", "geocoder", "geodata", "timezone", "tzdata")
)

hiddenimports = collect_submodules("phonenumbers", filter=lambda name: not name.startswith(UNUSED))
