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


class NonFiniteError(RuntimeError):
    """A model or VAE returned NaN or infinite values: names the stage, the dtype it ran in and the usual fix."""

    def __init__(self, stage: str, dtype, bad: int, total: int, fix: str):
        self.stage, self.dtype = stage, str(dtype)
        super().__init__(f"{stage} returned non-finite values ({bad} of {total} NaN or infinite) running in "
                         f"{dtype}; {fix}")


def check_finite(x, stage: str, dtype, fix: str):
    """Return the tensor ``x`` when every value is finite, else raise NonFiniteError (never pass garbage on)."""
    import torch

    finite = torch.isfinite(x)
    if not bool(finite.all()):
        raise NonFiniteError(stage, dtype, int(finite.numel() - finite.sum()), int(finite.numel()), fix)
    return x
