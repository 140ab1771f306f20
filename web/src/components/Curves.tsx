/**
 * Training curves with uPlot: loss and log-det on the left axis, each
 * control's mean (unweighted) energy on the right one. Redrawn in place as
 * points arrive, so a live subscription costs one setData per event.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ProgressFieldsFragment } from '../gql/graphql';

const COLORS = ['#1f6feb', '#8250df', '#d1242f', '#1a7f37', '#bf8700', '#0a7ea4'];

export function Curves({ points }: { points: ProgressFieldsFragment[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const controls = [...new Set(points.flatMap((p) => p.energies.map((e) => e.control)))];
  const key = controls.join('|');

  const data: uPlot.AlignedData = [
    points.map((p) => p.step),
    points.map((p) => p.loss ?? null),
    points.map((p) => p.logDet ?? null),
    ...controls.map((c) => points.map((p) => p.energies.find((e) => e.control === c)?.value ?? null)),
  ];

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(280, el.clientWidth);
    const opts: uPlot.Options = {
      width,
      height: 260,
      scales: { x: { time: false } },
      // A static key: uPlot's clickable legend rows would be mouse-only controls (see .u-legend in styles.css).
      legend: { live: false },
      axes: [
        { label: 'step' },
        { label: 'loss, log-det' },
        { scale: 'E', side: 1, label: 'energy', grid: { show: false } },
      ],
      series: [
        { label: 'step' },
        { label: 'loss', stroke: COLORS[0], width: 2 },
        { label: 'log-det', stroke: COLORS[1], width: 2 },
        ...controls.map((c, i) => ({
          label: `E ${c}`,
          stroke: COLORS[(i + 2) % COLORS.length],
          width: 2,
          scale: 'E',
        })),
      ],
    };
    plot.current = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(280, el.clientWidth), height: 260 }),
    );
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of series changes; data updates go through setData below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return (
    <div
      className="curves"
      data-testid="curves"
      data-points={points.length}
      role="img"
      aria-label={`Training curves, ${points.length} points`}
    >
      <div ref={box} />
    </div>
  );
}
