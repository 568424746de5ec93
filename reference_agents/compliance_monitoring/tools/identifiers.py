"""Secondary identifiers that help an analyst decide on a name match."""

from __future__ import annotations


def dob_match(date_of_birth: str | None, listed: list[str]) -> bool | None:
    """Whether a customer's date of birth is consistent with a listed party's.

    Args:
        date_of_birth: ``YYYY`` or ``YYYY-MM-DD``, or ``None``.
        listed: the list's dates of birth: ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY`` or a year
            range ``YYYY-YYYY`` (UN ``BETWEEN``).

    Returns:
        ``None`` when either side is unknown; ``True`` when a listed date agrees at the
        precision both sides have (full date, or year, or the year falls in the range);
        ``False`` otherwise.
    """
    if not date_of_birth or not listed:
        return None
    year = int(date_of_birth[:4])
    for value in listed:
        parts = value.split("-")
        if len(parts) == 2 and len(parts[1]) == 4:
            if int(parts[0]) <= year <= int(parts[1]):
                return True
        elif len(parts[0]) == 4 and parts[0].isdigit():
            if len(value) == 10 and len(date_of_birth) == 10:
                if value == date_of_birth:
                    return True
            elif int(parts[0]) == year:
                return True
    return False
