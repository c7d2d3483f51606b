# the 24-Mpx input of benchmarks/results/photo_24mpx.md: coffee upscaled 10x (order 3), 4 bits
import numpy as np, scipy.ndimage as ndi, skimage.data, imageio.v3 as iio
img = skimage.data.coffee().astype(np.float64)
big = np.stack([ndi.zoom(img[..., c], 10, order=3) for c in range(3)], axis=-1)
big = np.clip(np.rint(big), 0, 255).astype(np.uint8)
np.save("benchmarks/results/dense/session12/coffee24_8bit.npy", big)
q = (big >> 4) << 4
iio.imwrite("benchmarks/results/dense/session12/coffee24_4bit.png", q)
print(q.shape, q.dtype)
