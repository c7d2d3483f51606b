"""The two kinds of failure a ``qpsolve`` command reports without a traceback.

:class:`UserError` (and ``ValueError``/``TypeError``/``OSError``) exit with
status 2: the input or the arguments are wrong.  :class:`NotCertified` exits
with status 1: the input was fine but the certificate did not accept the
solver's answer.  Either way nothing is written.
"""


class UserError(Exception):
    """A problem with the command's input, reported without a traceback."""


class NotCertified(Exception):
    """The solver's answer was not certified optimal; the command wrote nothing."""
