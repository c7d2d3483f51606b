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
    "dequantize_batch",
    "dequantize_video",
    "__version__",
]

_DISTRIBUTED = ("dequantize_batch", "dequantize_video")


def __getattr__(name):
    # Dask and PyAV are imported on first use of the batch and video functions, not with qpsolve.
    if name in _DISTRIBUTED:
        from . import distributed

        return getattr(distributed, name)
    raise AttributeError(f"module 'qpsolve' has no attribute {name!r}")
