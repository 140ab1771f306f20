/**
 * Runs the experiments of scripts/measure-fidelity.js on one bundled unconditional MNIST
 * generator (plugins/<generator>), judged by the independent MLP: the shared setup of the
 * fidelity tests (test/controls/fidelity*.test.ts). Prints the figures and how long they took.
 */
import * as path from 'path';
import * as engine from '../../../src/engine';
import { loadPluginPackage } from '../../../src/plugins/loader';
import { auditSideEffects } from '../../../src/jobs/side-effect-audit';
import { harness, loadJudge, REPO } from './setup';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { measureFidelity, inkClassifierPlugin } = require(path.join(REPO, 'scripts', 'measure-fidelity.js'));

export interface FidelityScale {
  steps: number;
  batch: number;
  blocks: number;
  hidden: number;
  lr: number;
  eval: number;
  calibration: number;
  classifierWeight: number;
  debiasWeight: number;
}

/**
 * The reduced flow and evaluation both CI fidelity tests train and judge with (the full runs
 * in docs/RESULTS-FIDELITY.md use the same flow with more judged and calibration samples).
 */
export const CI_FLOW = {
  batch: 32,
  blocks: 4,
  hidden: 128,
  lr: 0.003,
  eval: 2000,
  calibration: 2048,
} as const;

/** The base generator's figures (shares by the judge and by `mnist-digit`, KL to uniform, agreement). */
export interface FidelityBase {
  judge: number[];
  control: number[];
  klJudge: number;
  klControl: number;
  agreement: number;
}

export async function runFidelity<E>(
  generator: string,
  only: string[],
  scale: FidelityScale,
): Promise<{ base: FidelityBase; experiments: E[] }> {
  const h = await harness('wasm');
  const p = h.registry.add(
    await loadPluginPackage(path.join(REPO, 'plugins', generator), { source: 'BUILTIN' }),
  );
  if (p.status !== 'LOADED') throw new Error(`plugins/${generator} did not load: ${p.error}`);
  if (only.includes('audit')) h.registry.add(inkClassifierPlugin());
  const judge = await loadJudge(h.tf);
  const t0 = Date.now();
  const res = await measureFidelity({
    engine,
    tf: h.tf,
    registry: h.registry,
    runtime: h.runtime,
    judge,
    audit: auditSideEffects,
    generator,
    only,
    scale,
  });

  console.log(
    `fidelity on ${generator} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${JSON.stringify({ base: res.base, experiments: res.experiments })}`,
  );
  return res;
}
