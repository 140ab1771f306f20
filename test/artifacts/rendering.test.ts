/**
 * The artifacts module without a server: the addresses' id parsing (the inverse
 * of their URL builders) and the grid's pixels for colour images and a count
 * that leaves cells empty. The routes themselves are tested through the real
 * server in routes.test.ts.
 */
import { PNG } from 'pngjs';
import { gridOfPngs } from '../../src/artifacts/grid';
import { plotCurves, trainingSeries } from '../../src/artifacts/curve-plot';
import { IMAGE, PROMPT_CURVE, SAMPLE_SET_GRID } from '../../src/artifacts/urls';
import { encodePng } from '../../src/engine/png';

const ID = '3f2b8c1e-9a4d-4e7f-8b6a-0c1d2e3f4a5b';

describe('artifact addresses', () => {
  it('build URLs under the base URL whose route parameters give back the row id', () => {
    expect(IMAGE.url('http://h:1', ID)).toBe(`http://h:1/artifacts/images/${ID}.png`);
    expect(IMAGE.rowId({ file: `${ID}.png` })).toBe(ID);
    expect(SAMPLE_SET_GRID.url('http://h:1', ID)).toBe(`http://h:1/artifacts/sample-sets/${ID}/grid.png`);
    expect(SAMPLE_SET_GRID.rowId({ id: ID })).toBe(ID);
    expect(PROMPT_CURVE.url('', ID)).toBe(`/artifacts/prompts/${ID}/curve.png`);
    expect(PROMPT_CURVE.rowId({ id: ID.toUpperCase() })).toBe(ID.toUpperCase());
  });

  it('refuse what cannot name a row, before any query', () => {
    for (const file of [ID, `${ID}.jpg`, `${ID}.png.png`, 'x.png', '.png', '', undefined])
      expect(IMAGE.rowId({ file })).toBeNull();
    for (const id of ['x', `${ID}x`, `${ID.slice(1)}`, "1' OR '1'='1", undefined]) {
      expect(SAMPLE_SET_GRID.rowId({ id })).toBeNull();
      expect(PROMPT_CURVE.rowId({ id })).toBeNull();
    }
  });
});

describe('sample-set grid', () => {
  /** `n` RGB images of h×w whose pixel (x, y, c) of image i is a known byte. */
  const byte = (i: number, x: number, y: number, c: number) => (i * 53 + x * 7 + y * 11 + c * 80) % 256;
  function rgbPngs(n: number, h: number, w: number): Buffer[] {
    const data = new Float32Array(n * h * w * 3);
    for (let i = 0; i < n; i++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let c = 0; c < 3; c++) data[((i * h + y) * w + x) * 3 + c] = byte(i, x, y, c) / 255;
    const batch = { n, height: h, width: w, channels: 3, data };
    return Array.from({ length: n }, (_, i) => encodePng(batch, i));
  }

  it('tiles 5 colour images in 3 columns, upscaled ×4 (24 px → 96), with black gaps and empty cells', () => {
    const png = gridOfPngs(rgbPngs(5, 24, 24));
    expect(png[25]).toBe(2); // IHDR colour type: RGB
    const grid = PNG.sync.read(png);
    const tile = 96;
    expect({ w: grid.width, h: grid.height }).toEqual({ w: 3 * tile + 2, h: 2 * tile + 1 });
    const at = (x: number, y: number) =>
      Array.from(grid.data.subarray((y * grid.width + x) * 4, (y * grid.width + x) * 4 + 3));
    for (let i = 0; i < 5; i++) {
      const left = (i % 3) * (tile + 1);
      const top = Math.floor(i / 3) * (tile + 1);
      for (const [x, y] of [
        [0, 0],
        [23, 23],
        [7, 16],
      ] as const) {
        const expected = [0, 1, 2].map((c) => byte(i, x, y, c));
        // Every pixel of the 4×4 block is the source pixel.
        for (const [dx, dy] of [
          [0, 0],
          [3, 3],
          [1, 2],
        ] as const)
          expect(at(left + x * 4 + dx, top + y * 4 + dy)).toEqual(expected);
      }
    }
    expect(at(tile, 10)).toEqual([0, 0, 0]); // the gap column
    expect(at(10, tile)).toEqual([0, 0, 0]); // the gap row
    expect(at(2 * (tile + 1) + 50, tile + 1 + 50)).toEqual([0, 0, 0]); // the sixth cell is empty
  });

  it('does not upscale images already 96 px or larger, and refuses an empty set', () => {
    const grid = PNG.sync.read(gridOfPngs(rgbPngs(1, 100, 60)));
    expect({ w: grid.width, h: grid.height }).toEqual({ w: 60, h: 100 });
    expect(() => gridOfPngs([])).toThrow('at least one image');
  });
});

describe('training curves', () => {
  const point = (step: number, loss: number | null, energies: Array<{ control: string; value: number }>) => ({
    id: String(step),
    promptId: ID,
    step,
    data: {
      step,
      totalSteps: 3,
      loss,
      logDet: -step,
      energies,
      stepsPerSecond: null,
      etaSeconds: null,
      at: '',
    },
  });

  it("makes loss, log-det and one series per control, in the prompt's order", () => {
    const series = trainingSeries([
      point(1, 3, [
        { control: 'digit', value: 5 },
        { control: 'ink', value: 1 },
      ]),
      point(2, null, [
        { control: 'digit', value: 4 },
        { control: 'ink', value: 2 },
      ]),
    ]);
    expect(series.map((s) => s.name)).toEqual(['loss', 'log-det', 'digit', 'ink']);
    expect(series[0]!.points).toEqual([
      [1, 3],
      [2, NaN],
    ]);
    expect(series[3]!.points).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it('draws one panel per series with a finite value, and a blank panel when there is none', () => {
    const two = PNG.sync.read(plotCurves(trainingSeries([point(1, 3, []), point(2, 2, [])])));
    expect({ w: two.width, h: two.height }).toEqual({ w: 640, h: 240 });
    const blank = PNG.sync.read(plotCurves([{ name: 'loss', points: [[1, NaN]] }]));
    expect({ w: blank.width, h: blank.height }).toEqual({ w: 640, h: 120 });
    expect(blank.data.equals(Buffer.alloc(blank.data.length, 255))).toBe(true);
  });
});
