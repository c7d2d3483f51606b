"""The model layer: operators, envelopes and masks (no solver code here)."""

from .envelopes import (
    ROUNDINGS,
    apply_confidence,
    apply_mask,
    bits_step,
    check_on_grid,
    container_range,
    envelope_from_levels,
    envelope_from_step,
)
from .operators import (
    BOUNDARIES,
    MODELS,
    GridSpec,
    axis_operator,
    energy_factor,
    energy_matrix,
    forward_difference,
    laplacian,
    second_difference,
)

__all__ = [
    "BOUNDARIES",
    "MODELS",
    "ROUNDINGS",
    "GridSpec",
    "apply_confidence",
    "apply_mask",
    "axis_operator",
    "bits_step",
    "check_on_grid",
    "container_range",
    "energy_factor",
    "energy_matrix",
    "envelope_from_levels",
    "envelope_from_step",
    "forward_difference",
    "laplacian",
    "second_difference",
]
