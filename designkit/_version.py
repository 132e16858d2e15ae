"""The package version, in one module that imports nothing (the package root and every
module that prints the version read it here, so none of them imports the package root)."""

__version__ = "0.1.0"
