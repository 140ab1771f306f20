/**
 * The controls plugin (plugins/controls) as the controls tests call it: the module, and the types of
 * the pure functions of its de-biasing fit that the tests check against known answers.
 */
import * as path from 'path';
import { PLUGINS } from './setup';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const controlsPlugin = require(path.join(PLUGINS, 'controls'));
export const { fitDebias, kl, momentStep, noiseShrinkage, oneHotRows, tiltWeights } = controlsPlugin as {
  noiseShrinkage: (
    phi: number[][],
    target: number[],
  ) => { shrinkage: number; t2: number; fitTarget: number[] };
  oneHotRows: (rows: number[][]) => number[][];
  tiltWeights: (phi: number[][], beta: number[]) => number[];
  momentStep: (beta: number[], meanPhi: number[], target: number[], rate: number) => number[];
  fitDebias: (
    phi: number[][],
    target: number[],
    o?: { iterations?: number; learningRate?: number; counts?: number[][] },
  ) => {
    beta: number[];
    loss: number;
    initialLoss: number;
    marginalBefore: number[];
    marginalAfter: number[];
  };
  kl: (p: number[], q: number[]) => number;
};
