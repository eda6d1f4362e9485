"""Generative models retrained generation after generation, behind one protocol and a registry.

Core objects: `GenerativeModel` (the protocol), `make` / `available` / `register` (the registry),
`params_schema` / `validate_params` (the parameters each model declares, a `ModelParams`).
Importing the package registers "gaussian", "gmm" and "kde" (models of vectors), and "ngram" and
"transformer" (language models of `models.documents.Documents`).
"""

from models import gaussian, gmm, kde, ngram, transformer  # noqa: F401 (they register)
from models.base import GenerativeModel, NotFittedError
from models.params import ModelParams, ParameterError
from models.registry import available, make, params_schema, register, validate_params

__all__ = [
    "GenerativeModel",
    "ModelParams",
    "NotFittedError",
    "ParameterError",
    "available",
    "make",
    "params_schema",
    "register",
    "validate_params",
]
