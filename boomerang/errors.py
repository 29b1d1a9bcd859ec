"""One error type for every bad input, always naming the input, its allowed range and the value received."""


class BoomerangInputError(ValueError):
    """A user-facing input error: ``input_name``, ``allowed`` and ``received`` are part of the message."""

    def __init__(self, input_name: str, allowed: str, received, hint: str = ""):
        self.input_name = input_name
        self.allowed = allowed
        self.received = received
        message = f"{input_name} must be {allowed}; received {received!r}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


def check_int_range(name: str, value: int, low: int, high: int, hint: str = "") -> int:
    """Return ``value`` if ``low <= value <= high``, else raise a BoomerangInputError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high):
        raise BoomerangInputError(name, f"an integer in [{low}, {high}]", value, hint)
    return value
