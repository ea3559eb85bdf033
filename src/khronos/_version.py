"""The package version, in one place (read by hatchling and by ``khronos --version``)."""

__version__ = "0.1.0.dev0"
