"""qpsolve: exact, fast solutions of bounded polyharmonic QPs for image de-quantization.

Data flows one way: model (operators, envelopes, masks) -> :class:`BoxQP` ->
solvers (a registry) -> applications (:func:`dequantize`, the CLI, benchmarks).
"""

from .certificate import Certificate, certificate
from .imaging.image import dequantize, image_problem
from .model.operators import BOUNDARIES, MODELS, GridSpec, energy_matrix
from .problem import BoxQP
from .result import SolveResult, Status
from .solvers import available_solvers, solve

__version__ = "0.1.0"

__all__ = [
    "BOUNDARIES",
    "MODELS",
    "BoxQP",
    "Certificate",
    "GridSpec",
    "SolveResult",
    "Status",
    "available_solvers",
    "certificate",
    "dequantize",
    "energy_matrix",
    "image_problem",
    "solve",
    "__version__",
]
