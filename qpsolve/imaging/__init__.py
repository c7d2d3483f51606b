"""Images in, images out: problems from images (:mod:`~qpsolve.imaging.image`), the photo
pipeline (:mod:`~qpsolve.imaging.photo`), tiles (:mod:`~qpsolve.imaging.tiles`), image files
(:mod:`~qpsolve.imaging.io`) and test images (:mod:`~qpsolve.imaging.data`)."""

from .image import dequantize, image_problem

__all__ = ["dequantize", "image_problem"]
