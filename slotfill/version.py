"""The package version, in one place (read by the package, the model files and pyproject)."""

__version__ = "0.1.0"
