/**
 * λ, a control's weight: a slider on a log scale (useful weights span 0.01 to
 * 10 000) coupled with a number field for the exact value.
 */
const MIN_LOG = -2;
const MAX_LOG = 4;

export function WeightInput({
  id,
  value,
  onChange,
  describedBy,
}: {
  id: string;
  value: number;
  onChange: (v: number) => void;
  describedBy?: string;
}) {
  const log = value > 0 ? Math.min(MAX_LOG, Math.max(MIN_LOG, Math.log10(value))) : MIN_LOG;
  return (
    <div className="weight">
      <label htmlFor={`${id}-slider`}>Weight λ (log scale)</label>
      <input
        id={`${id}-slider`}
        type="range"
        min={MIN_LOG}
        max={MAX_LOG}
        step={0.01}
        value={log}
        aria-valuetext={`λ = ${value}`}
        onChange={(e) => onChange(Number(Math.pow(10, Number(e.target.value)).toPrecision(3)))}
      />
      <label htmlFor={id}>λ exact</label>
      <input
        id={id}
        type="number"
        step="any"
        value={Number.isFinite(value) ? value : ''}
        aria-describedby={describedBy}
        onChange={(e) => onChange(e.target.value === '' ? NaN : Number(e.target.value))}
      />
    </div>
  );
}
