"""Packaged study files (TOML), found by name by ``ecosystem sensitivity | discover | robust``."""
