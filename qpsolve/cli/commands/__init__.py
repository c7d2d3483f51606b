"""Sub-commands of the ``qpsolve`` CLI, one module each (see :mod:`qpsolve.cli`)."""
