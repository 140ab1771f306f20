/** Small display helpers shared by the pages. */

export function formatNumber(v: number | null | undefined, digits = 3): string {
  if (v == null || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0)) return v.toExponential(2);
  return Number(v.toFixed(digits)).toString();
}

export function formatSeconds(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '–';
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  return new Date(iso).toLocaleString();
}

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export interface UserErrorLike {
  field?: readonly string[] | null;
  message: string;
  code: string;
}
