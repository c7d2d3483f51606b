"""The Dask client a batch or video job runs on: given, remote, or an embedded LocalCluster."""

from __future__ import annotations

import contextlib
import logging
import numbers

from ..linalg.threads import usable_cores

__all__ = ["check_cluster_args", "dask_client", "default_workers", "worker_count"]


def default_workers():
    """Workers of the embedded cluster when none are asked for: the cores this process may use.

    Examples
    --------
    >>> default_workers() >= 1
    True
    """
    return usable_cores()


def _check_workers(workers):
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return int(workers)


def check_cluster_args(client=None, workers=None, scheduler=None):
    """Refuse more than one of ``client``, ``workers`` and ``scheduler``, and a bad ``workers``.

    Examples
    --------
    >>> check_cluster_args(workers=2, scheduler="tcp://127.0.0.1:8786")
    Traceback (most recent call last):
    ...
    ValueError: give one of client, workers and scheduler, not workers and scheduler
    """
    given = [n for n, v in (("client", client), ("workers", workers), ("scheduler", scheduler)) if v is not None]
    if len(given) > 1:
        raise ValueError(f"give one of client, workers and scheduler, not {' and '.join(given)}")
    if workers is not None:
        _check_workers(workers)


@contextlib.contextmanager
def dask_client(client=None, *, workers=None, scheduler=None, memory_limit="auto"):
    """Yield a :class:`distributed.Client`; close only what was made here.

    Parameters
    ----------
    client : distributed.Client, optional
        Used as it is (and left open).
    workers : int, optional
        Process workers of the embedded :class:`~distributed.LocalCluster`
        (one thread each: the solvers are single-threaded by design and two
        threads in one process would fight for its GIL-free kernels);
        default :func:`default_workers`.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``) instead of an
        embedded cluster.
    memory_limit : str or int, optional
        Per-worker memory limit of the embedded cluster (Dask's meaning:
        ``"auto"`` shares the machine's memory among the workers); a worker
        above it is restarted by its nanny and its task fails alone.
    """
    check_cluster_args(client, workers, scheduler)
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ValueError(f"scheduler must be an address such as 'tcp://127.0.0.1:8786', got {scheduler!r}")
        try:
            c = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from exc
        with c:
            yield c
        return
    n = _check_workers(workers)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR, memory_limit=memory_limit) as cluster, Client(cluster) as c:
        yield c


def worker_count(client):
    """Workers the scheduler knows now (at least 1, so throttles never reach zero)."""
    return max(1, len(client.nthreads()))
