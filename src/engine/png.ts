/** PNG encoding of ImageBatch images with pngjs: grayscale for 1 channel, RGB for 3 (RGBA for 4). */
import { PNG } from 'pngjs';
import type { ImageBatch } from './images';

function colorType(channels: number): 0 | 2 | 6 {
  if (channels === 1) return 0;
  if (channels === 3) return 2;
  if (channels === 4) return 6;
  throw new Error(`cannot encode ${channels}-channel images as PNG`);
}

function toByte(v: number): number {
  const x = Math.round(v * 255);
  return x > 255 ? 255 : x >= 0 ? x : 0;
}

function encode(
  width: number,
  height: number,
  channels: number,
  pixel: (x: number, y: number, c: number) => number,
): Buffer {
  const ct = colorType(channels);
  const png = new PNG({ width, height, colorType: ct, inputColorType: 6, inputHasAlpha: true, bitDepth: 8 });
  const out = png.data; // RGBA input
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      if (channels === 1) {
        const g = toByte(pixel(x, y, 0));
        out[o] = g;
        out[o + 1] = g;
        out[o + 2] = g;
        out[o + 3] = 255;
      } else {
        out[o] = toByte(pixel(x, y, 0));
        out[o + 1] = toByte(pixel(x, y, 1));
        out[o + 2] = toByte(pixel(x, y, 2));
        out[o + 3] = channels === 4 ? toByte(pixel(x, y, 3)) : 255;
      }
    }
  }
  return PNG.sync.write(png, { colorType: ct, inputColorType: 6, inputHasAlpha: true, bitDepth: 8 });
}

/** One image of the batch as a PNG. */
export function encodePng(batch: ImageBatch, index: number): Buffer {
  const { n, height: h, width: w, channels: c, data } = batch;
  if (!Number.isInteger(index) || index < 0 || index >= n)
    throw new Error(`image index ${index} out of range [0, ${n})`);
  const base = index * h * w * c;
  return encode(w, h, c, (x, y, ch) => data[base + (y * w + x) * c + ch]);
}

/** All images of the batch in a grid (default ⌈√n⌉ columns), 1-pixel dark gaps. */
export function encodeGrid(batch: ImageBatch, columns?: number): Buffer {
  const { n, height: h, width: w, channels: c, data } = batch;
  if (n < 1) throw new Error('empty batch');
  const cols = Math.max(1, Math.min(n, columns ?? Math.ceil(Math.sqrt(n))));
  const rows = Math.ceil(n / cols);
  const gap = 1;
  const W = cols * w + (cols - 1) * gap;
  const H = rows * h + (rows - 1) * gap;
  return encode(W, H, c, (x, y, ch) => {
    const col = Math.floor(x / (w + gap));
    const row = Math.floor(y / (h + gap));
    const px = x - col * (w + gap);
    const py = y - row * (h + gap);
    const i = row * cols + col;
    if (px >= w || py >= h || i >= n) return ch === 3 ? 1 : 0;
    return data[((i * h + py) * w + px) * c + ch];
  });
}
