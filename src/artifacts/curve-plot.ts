/**
 * Training curves as a PNG, with no plotting dependency: one panel per series
 * (loss, log-det, then each control's energy), stacked, each scaled to its own
 * range, labelled with its name, minimum and maximum in a tiny built-in 3×5 font.
 */
import { PNG } from 'pngjs';
import type { ProgressPointRow } from '../store/entities';

export interface Series {
  name: string;
  points: Array<[step: number, value: number]>;
}

// 3×5 glyphs for the characters numbers need; each row is 3 bits, top to bottom.
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 1, 1],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2],
  '-': [0, 0, 7, 0, 0],
  '+': [0, 2, 7, 2, 0],
  ' ': [0, 0, 0, 0, 0],
  ':': [0, 2, 0, 2, 0],
  _: [0, 0, 0, 0, 7],
  '(': [1, 2, 2, 2, 1],
  ')': [4, 2, 2, 2, 4],
  // Letters (drawn as capitals) for series names.
  a: [2, 5, 7, 5, 5],
  b: [6, 5, 6, 5, 6],
  c: [3, 4, 4, 4, 3],
  d: [6, 5, 5, 5, 6],
  e: [7, 4, 6, 4, 7],
  f: [7, 4, 6, 4, 4],
  g: [3, 4, 5, 5, 3],
  h: [5, 5, 7, 5, 5],
  i: [7, 2, 2, 2, 7],
  j: [1, 1, 1, 5, 2],
  k: [5, 5, 6, 5, 5],
  l: [4, 4, 4, 4, 7],
  m: [5, 7, 7, 5, 5],
  n: [6, 5, 5, 5, 5],
  o: [2, 5, 5, 5, 2],
  p: [6, 5, 6, 4, 4],
  q: [2, 5, 5, 6, 3],
  r: [6, 5, 6, 5, 5],
  s: [3, 4, 2, 1, 6],
  t: [7, 2, 2, 2, 2],
  u: [5, 5, 5, 5, 7],
  v: [5, 5, 5, 5, 2],
  w: [5, 5, 7, 7, 5],
  x: [5, 5, 2, 5, 5],
  y: [5, 5, 2, 2, 2],
  z: [7, 1, 2, 4, 7],
};
const COLOURS: Array<[number, number, number]> = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [255, 127, 14],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
];

class Canvas {
  readonly png: PNG;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.png = new PNG({ width, height });
    this.png.data.fill(255);
  }
  set(x: number, y: number, [r, g, b]: [number, number, number]): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (Math.round(y) * this.width + Math.round(x)) * 4;
    this.png.data[o] = r;
    this.png.data[o + 1] = g;
    this.png.data[o + 2] = b;
    this.png.data[o + 3] = 255;
  }
  line(x0: number, y0: number, x1: number, y1: number, colour: [number, number, number]): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) this.set(x0 + ((x1 - x0) * i) / n, y0 + ((y1 - y0) * i) / n, colour);
  }
  text(x: number, y: number, s: string, colour: [number, number, number], scale = 2): void {
    for (const ch of s) {
      const rows = GLYPHS[ch.toLowerCase()] ?? GLYPHS[' ']!;
      rows.forEach((bits, r) => {
        for (let c = 0; c < 3; c++) {
          if (!(bits & (4 >> c))) continue;
          for (let dy = 0; dy < scale; dy++)
            for (let dx = 0; dx < scale; dx++) this.set(x + c * scale + dx, y + r * scale + dy, colour);
        }
      });
      x += 4 * scale;
    }
  }
}

function formatNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2).replace('e+', 'e'); // drawn as E
  return Number(v.toPrecision(4)).toString();
}

export function plotCurves(series: Series[], width = 640, panelHeight = 120): Buffer {
  const panels = series.filter((s) => s.points.some(([, v]) => Number.isFinite(v)));
  const height = Math.max(1, panels.length) * panelHeight;
  const canvas = new Canvas(width, height);
  const grey: [number, number, number] = [200, 200, 200];
  const dark: [number, number, number] = [60, 60, 60];
  const left = 8;
  const right = width - 8;
  let maxStep = 1;
  for (const s of panels) for (const [step] of s.points) maxStep = Math.max(maxStep, step);
  panels.forEach((s, i) => {
    const top = i * panelHeight + 20;
    const bottom = (i + 1) * panelHeight - 8;
    const values = s.points.filter(([, v]) => Number.isFinite(v));
    const lo = Math.min(...values.map(([, v]) => v));
    const hi = Math.max(...values.map(([, v]) => v));
    const span = hi - lo || 1;
    const colour = COLOURS[i % COLOURS.length]!;
    canvas.line(left, bottom, right, bottom, grey);
    canvas.line(left, top, left, bottom, grey);
    canvas.text(
      left + 4,
      i * panelHeight + 4,
      `${s.name}: ${formatNumber(lo)} to ${formatNumber(hi)}`,
      colour,
    );
    canvas.text(right - 4 * 2 * String(maxStep).length - 4, bottom - 14, String(maxStep), dark);
    let prev: [number, number] | null = null;
    for (const [step, v] of values) {
      const x = left + ((right - left) * step) / maxStep;
      const y = bottom - ((bottom - top) * (v - lo)) / span;
      if (prev) canvas.line(prev[0], prev[1], x, y, colour);
      prev = [x, y];
    }
  });
  return PNG.sync.write(canvas.png);
}

/**
 * A prompt's recorded steps as series: loss, log-det, then each control's mean
 * energy. Energies are read by position: every step lists them in the order
 * the prompt names its controls.
 */
export function trainingSeries(history: ProgressPointRow[]): Series[] {
  const series: Series[] = [
    { name: 'loss', points: history.map((p) => [p.step, p.data.loss ?? NaN]) },
    { name: 'log-det', points: history.map((p) => [p.step, p.data.logDet ?? NaN]) },
  ];
  const names = [...new Set(history.flatMap((p) => p.data.energies.map((e) => e.control)))];
  for (const [i, name] of names.entries()) {
    series.push({ name, points: history.map((p) => [p.step, p.data.energies[i]?.value ?? NaN]) });
  }
  return series;
}
