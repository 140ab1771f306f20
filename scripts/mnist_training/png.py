"""Grayscale PNG writing (no imaging library needed) and the 10x10 sample grid."""
import struct
import zlib

import numpy as np


def write_png_gray(path, img):  # img: uint8 [H, W]
    h, w = img.shape
    raw = b''.join(b'\x00' + img[i].tobytes() for i in range(h))

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) \
        + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
    with open(path, 'wb') as f:
        f.write(png)


def grid_png(path, images, rows=10, cols=10, scale=2, pad=2):
    imgs = (images[:rows * cols, 0].clamp(0, 1) * 255).round().byte().numpy()
    cell = 28 * scale + pad
    out = np.full((rows * cell + pad, cols * cell + pad), 64, np.uint8)
    for i, im in enumerate(imgs):
        r, c = divmod(i, cols)
        big = np.kron(im, np.ones((scale, scale), np.uint8))
        out[pad + r * cell: pad + r * cell + 28 * scale, pad + c * cell: pad + c * cell + 28 * scale] = big
    write_png_gray(path, out)
