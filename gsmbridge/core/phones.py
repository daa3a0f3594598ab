"""Phone numbers to E.164, with the phonenumbers library (libphonenumber's data)."""

from __future__ import annotations

import functools

import phonenumbers

from gsmbridge.modem import masking

MAX_RAW_LENGTH = 64

# phonenumbers' reasons in plain words (its own text carries a "(1)" error code).
_PARSE_REASONS: dict[int, str] = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "has no valid country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "does not look like a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short after the "
    "international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
    phonenumbers.NumberParseException.TOO_LONG: "is too long",
}
# Reasons where a number without + was measured against the default country's plan.
_NATIONAL_REASONS = (
    phonenumbers.NumberParseException.TOO_SHORT_NSN,
    phonenumbers.NumberParseException.TOO_LONG,
)
_SETTING = "Default country (sending.default_region)"


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


def _read_as(region: str) -> str:
    """What to add to a reason when a number without + was read in ``region``: a
    German number typed without +49 is 'impossible' as a US one, which says nothing
    of the setting behind it."""
    article = "an" if region[:1] in "AEFHILMNORSX" else "a"  # letters said as "an": "an FR"
    return f", read as {article} {region} number: use + and the country code, or set {_SETTING}"


def _invalid(text: str, reason: str) -> InvalidNumber:
    return InvalidNumber(f"phone number {text!r} {reason}", f"the number {reason}")


@functools.lru_cache(maxsize=4096)
def _normalise_text(text: str, default_region: str) -> str:
    """Cached: the same recipients come back again and again (groups, conversations)."""
    try:
        parsed = phonenumbers.parse(text, default_region, keep_raw_input=True)
    except phonenumbers.NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "cannot be read")
        national = not text.startswith(("+", "\uff0b"))
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            if national:  # the default country is not one phonenumbers knows
                known = (
                    f"Default country {default_region} is not one phone numbers know"
                    if default_region
                    else "no Default country is set"
                )
                reason += f" ({known}): use + and the country code, or set {_SETTING}"
        elif national and exc.error_type in _NATIONAL_REASONS:
            reason += _read_as(default_region)
        raise _invalid(text, reason) from exc
    # No + (nor an international prefix): the default country's plan judged it.
    hint = (
        _read_as(default_region)
        if parsed.country_code_source == phonenumbers.CountryCodeSource.FROM_DEFAULT_COUNTRY
        else ""
    )
    if not phonenumbers.is_possible_number(parsed):
        raise _invalid(text, "has an impossible length" + hint)
    if not phonenumbers.is_valid_number(parsed):
        raise _invalid(text, "is not a valid number" + hint)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Numbers in the log: ``mask`` keeps the last four digits, or the whole number while
# DEBUG logging is on (diagnosing a send needs it), the same rule as the modem's lines.
# The window's masked columns and notifications use ``mask_number``: always masked.
mask = masking.mask
mask_number = masking.mask_number
