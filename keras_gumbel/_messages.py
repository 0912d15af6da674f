"""The package's error messages (no backend imports: used by the seam)."""


def invalid(name, expected, received):
    """Builds the package's standard `ValueError` message."""
    return (
        f"Invalid value received for argument `{name}`. Expected {expected}. "
        f"Received: {name}={received!r}"
    )


def unknown_rank(name, expected):
    return (f"Invalid value received for argument `{name}`. Expected "
            f"{expected}. Received a tensor of unknown rank.")
