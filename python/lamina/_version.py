"""The package version (kept equal to pyproject.toml's); a module of its own so that modules below
the package __init__ (show_config) can read it."""
__version__ = "0.1.0"
