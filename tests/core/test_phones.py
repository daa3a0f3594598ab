"""A number's error names the country it was read in, when the default one was used."""

from __future__ import annotations

import pytest

from gsmbridge.core.phones import InvalidNumber, normalise

SETTING = "Default country (sending.default_region)"


def _error(raw: str, region: str) -> InvalidNumber:
    with pytest.raises(InvalidNumber) as caught:
        normalise(raw, region)
    return caught.value


@pytest.mark.parametrize(
    ("raw", "region", "reason", "country"),
    [
        # A German mobile number typed without +49, read as a US one (the review's case).
        ("0151 12345678", "US", "has an impossible length", "a US number"),
        ("555 0199", "US", "is not a valid number", "a US number"),
        ("12", "FR", "has an impossible length", "an FR number"),
        ("1" * 30, "DE", "is too long", "a DE number"),
    ],
)
def test_a_national_number_names_the_default_country(
    raw: str, region: str, reason: str, country: str
) -> None:
    error = _error(raw, region)
    hint = f"{reason}, read as {country}: use + and the country code, or set {SETTING}"
    assert str(error) == f"phone number {raw!r} {hint}"
    # The reason without the number, for the job's error and the log (masked elsewhere).
    assert error.why == f"the number {hint}"
    assert raw.replace(" ", "") not in error.why.replace(" ", "")


@pytest.mark.parametrize("raw", ["+4917612345", "0049 176 12345", "+999 123", "abc"])
def test_an_international_number_or_no_number_blames_no_country(raw: str) -> None:
    error = _error(raw, "DE")
    assert "read as" not in str(error) and "Default country" not in str(error)


@pytest.mark.parametrize(
    ("region", "known"),
    [("XX", "Default country XX is not one phone numbers know"), ("", "no Default country is set")],
)
def test_a_national_number_without_a_usable_default_country(region: str, known: str) -> None:
    error = _error("4155550123", region)
    assert error.why == (
        f"the number has no valid country code ({known}):"
        f" use + and the country code, or set {SETTING}"
    )


def test_the_same_number_in_its_own_country_is_fine() -> None:
    assert normalise("0151 12345678", "DE") == "+4915112345678"
    assert normalise("+49 151 12345678", "US") == "+4915112345678"
