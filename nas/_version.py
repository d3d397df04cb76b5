"""The package version, in a leaf module (modules of nas read it without importing nas)."""

__version__ = "0.1.0"
