"""Generative models retrained generation after generation, behind one protocol and a registry.

Core objects: `GenerativeModel` (the protocol), `make` / `available` / `register` (the registry),
`params_schema` / `validate_params` (the parameters each model declares, a `ModelParams`).
Importing the package registers "gaussian", "gmm" and "kde" and the neural "flow", "vae" and
"diffusion" (models of vectors), and "ngram" and "transformer" (language models of
`models.documents.Documents`).
"""

from models import (  # noqa: F401 (they register)
    diffusion,
    flow,
    gaussian,
    gmm,
    kde,
    ngram,
    transformer,
    vae,
)
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
