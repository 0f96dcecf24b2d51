"""The comparator package's exception."""

from model import ModelError


class ComparatorError(ModelError):
    """Bad input to the comparator analysis (shapes, units, missing variables)."""
