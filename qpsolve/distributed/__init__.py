"""Batches of images and video on Dask (``dask.distributed``), issue #22.

One Dask task per image (:func:`dequantize_batch`) or per video chunk
(:func:`dequantize_video`), run on the client given, or on an embedded
:class:`~distributed.LocalCluster` of process workers (one thread each) that
lives for the call.  Workers read their inputs and write their outputs
themselves, atomically, so only paths and small reports travel through the
scheduler: a remote cluster needs the files on a file system its workers
share.  Dask is imported only when one of these functions is called.
"""

from .batch import BatchReport, FileReport, dequantize_batch, expand_inputs
from .cluster import dask_client
from .video import VideoReport, dequantize_video, flicker

__all__ = [
    "BatchReport",
    "FileReport",
    "VideoReport",
    "dask_client",
    "dequantize_batch",
    "dequantize_video",
    "expand_inputs",
    "flicker",
]
