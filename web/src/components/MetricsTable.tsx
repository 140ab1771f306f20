import { formatNumber } from '../format';

/** Metrics of the finished prompt: per control, base generator against prompt. */
export function MetricsTable({ metrics }: { metrics: unknown }) {
  const m = (metrics ?? {}) as { samples?: number; controls?: Array<Record<string, unknown>> };
  const rows: Array<{ control: string; name: string; base: unknown; prompt: unknown }> = [];
  const flatten = (prefix: string, base: unknown, promptV: unknown, control: string) => {
    if (base && typeof base === 'object' && !Array.isArray(base)) {
      for (const k of Object.keys(base))
        flatten(
          prefix ? `${prefix}.${k}` : k,
          (base as Record<string, unknown>)[k],
          (promptV as Record<string, unknown> | undefined)?.[k],
          control,
        );
    } else rows.push({ control, name: prefix, base, prompt: promptV });
  };
  for (const c of m.controls ?? []) {
    const control = String(c.control);
    rows.push({
      control,
      name: 'mean energy (lower is closer)',
      base: c.meanEnergyBase,
      prompt: c.meanEnergyPrompt,
    });
    if (c.base !== undefined) flatten('', c.base, c.prompt, control);
  }
  const show = (v: unknown) =>
    typeof v === 'number' ? formatNumber(v, 4) : v === undefined ? '–' : JSON.stringify(v);
  return (
    <div className="table-wrap">
      <table data-testid="metrics">
        <caption>Metrics on {m.samples ?? '?'} samples, the base generator against the prompt</caption>
        <thead>
          <tr>
            <th scope="col">Control</th>
            <th scope="col">Metric</th>
            <th scope="col">Base generator</th>
            <th scope="col">Prompt</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              <td>{r.control}</td>
              <td>{r.name}</td>
              <td>{show(r.base)}</td>
              <td>{show(r.prompt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
