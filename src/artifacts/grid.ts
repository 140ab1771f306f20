/**
 * A sample set as one picture: its stored PNGs side by side in ⌈√n⌉ columns
 * with 1-pixel black gaps, each upscaled (nearest neighbour, by a whole
 * factor) to at least ~96 px on its longer side so that 28-pixel digits are
 * visible in a browser.
 *
 * The images are decoded to RGBA bytes once and copied into the grid byte for
 * byte; the grid is encoded once. No float round trip: a stored pixel is the
 * grid's pixel. The grid is grey (PNG colour type 0) when every image is grey,
 * else RGB (type 2); alpha is dropped, as the generators' images have none.
 */
import { PNG } from 'pngjs';

/** The smallest side a tile is upscaled to (whole factors only). */
const MIN_TILE_PX = 96;
/** Width of the black lines between tiles, in pixels. */
const GAP_PX = 1;

function isGrey(rgba: Buffer): boolean {
  for (let o = 0; o < rgba.length; o += 4)
    if (rgba[o] !== rgba[o + 1] || rgba[o] !== rgba[o + 2]) return false;
  return true;
}

/** The grid PNG of stored PNGs of one size (the first image's size is the tile size). */
export function gridOfPngs(pngs: Buffer[]): Buffer {
  if (pngs.length === 0) throw new Error('a grid needs at least one image');
  const images = pngs.map((b) => PNG.sync.read(b));
  const { width, height } = images[0]!;
  const scale = Math.max(1, Math.floor(MIN_TILE_PX / Math.max(width, height)));
  const tileW = width * scale;
  const tileH = height * scale;
  const cols = Math.ceil(Math.sqrt(images.length));
  const rows = Math.ceil(images.length / cols);
  const gridW = cols * tileW + (cols - 1) * GAP_PX;
  const gridH = rows * tileH + (rows - 1) * GAP_PX;

  const grid = new PNG({ width: gridW, height: gridH });
  const out = grid.data; // RGBA, zero-filled: the gaps and empty cells are black
  for (let o = 3; o < out.length; o += 4) out[o] = 255;
  images.forEach((img, i) => {
    const left = (i % cols) * (tileW + GAP_PX);
    const top = Math.floor(i / cols) * (tileH + GAP_PX);
    for (let y = 0; y < tileH; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < tileW; x++) {
        const sx = Math.floor(x / scale);
        // An image of another size than the first (never written by the server) is clipped or padded black.
        if (sy >= img.height || sx >= img.width) continue;
        const src = (sy * img.width + sx) * 4;
        const dst = ((top + y) * gridW + left + x) * 4;
        out[dst] = img.data[src]!;
        out[dst + 1] = img.data[src + 1]!;
        out[dst + 2] = img.data[src + 2]!;
      }
    }
  });
  const colorType = images.every((img) => isGrey(img.data)) ? 0 : 2;
  return PNG.sync.write(grid, { colorType, inputColorType: 6, inputHasAlpha: true, bitDepth: 8 });
}
