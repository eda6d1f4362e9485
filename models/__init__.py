"""Generative models retrained generation after generation, behind one protocol and a registry.

Core objects: `GenerativeModel` (the protocol), `make` / `available` / `register` (the registry).
Importing the package registers "gaussian", "gmm" and "kde".
"""

from models import gaussian, gmm, kde  # noqa: F401 (imported so that they register)
from models.base import GenerativeModel, NotFittedError
from models.registry import available, make, register

__all__ = ["GenerativeModel", "NotFittedError", "available", "make", "register"]
