"""Phone numbers to E.164, with the phonenumbers library (libphonenumber's data)."""

from __future__ import annotations

import functools

import phonenumbers

from gsmbridge.modem import masking

MAX_RAW_LENGTH = 64

# phonenumbers' reasons in plain words (its own text carries a "(1)" error code).
_PARSE_REASONS: dict[int, str] = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "has no valid country code "
    "(start it with + and the country code, or check sending.default_region)",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "does not look like a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short after the "
    "international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
    phonenumbers.NumberParseException.TOO_LONG: "is too long",
}


class InvalidNumber(ValueError):
    """The number cannot be used; the message says why, for a person to fix it.
    ``why`` says it without the number (for the log and a job's error, where the
    number is masked or shown apart)."""

    def __init__(self, message: str, why: str = "") -> None:
        super().__init__(message)
        self.why = why or message


def normalise(raw: object, default_region: str) -> str:
    """Return the number in E.164 (+CCNNN...) or raise InvalidNumber with the reason."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InvalidNumber("no phone number")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise InvalidNumber(f"phone number is a {type(raw).__name__}, not text")
    text = str(raw).strip()
    if len(text) > MAX_RAW_LENGTH:
        raise InvalidNumber("phone number is too long")
    return _normalise_text(text, default_region.upper())


@functools.lru_cache(maxsize=4096)
def _normalise_text(text: str, default_region: str) -> str:
    """Cached: the same recipients come back again and again (groups, conversations)."""
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "cannot be read")
        raise InvalidNumber(f"phone number {text!r} {reason}", f"the number {reason}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumber(
            f"phone number {text!r} has an impossible length", "the number has an impossible length"
        )
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidNumber(
            f"phone number {text!r} is not a valid number", "the number is not a valid number"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Numbers in the log: ``mask`` keeps the last four digits, or the whole number while
# DEBUG logging is on (diagnosing a send needs it), the same rule as the modem's lines.
# The window's masked columns and notifications use ``mask_number``: always masked.
mask = masking.mask
mask_number = masking.mask_number
