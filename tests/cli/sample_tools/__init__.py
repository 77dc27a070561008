"""Tools modules for `--tools` tests, in every shape the loader accepts (and some it refuses)."""
