/**
 * `promptgen plugin check <dir|tgz>`: tries a plugin package the way a server
 * would take it, without a server or a database.
 *
 * 1. A folder is packed with `npm pack` (lifecycle scripts off) and a .tgz is
 *    unpacked, so only what the package's `files` ships is seen: a model left
 *    out of the package fails here as it would on a server.
 * 2. The package is loaded by the server's loader next to the built-in plugins
 *    (so it may use their named classifiers, and a clashing name is reported),
 *    and every model it declares in `promptgen.models` is loaded.
 * 3. Each generator makes a small batch from z ~ N(0, I) (fixed seed); each
 *    classifier classifies it; each control's energy and its gradient with
 *    respect to the images are computed on it. Shapes, value ranges and
 *    timings are reported, and anything non-finite, out of range, of the wrong
 *    shape, or thrown is a problem.
 *
 * The report is a list of lines; `ok` is false when any line is a problem.
 */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../engine';
import type { BackendPreference } from '../shared/config';
import {
  builtinPluginsDir,
  loadPluginPackage,
  PluginRegistry,
  validateParams,
  type LoadedPlugin,
  type PluginRuntime,
} from './index';
import { loadDeclaredModels } from './model-check';
import type { ControlDefinition, GeneratorInfo, Tensor, Tf } from '../sdk';

export interface CheckOptions {
  backend: BackendPreference;
  /** Images per batch (small: a check, not a benchmark). */
  batch?: number;
  /** Params per control name (JSON objects); otherwise the schema's defaults, then its first `examples` entry. */
  params?: Record<string, unknown>;
  /** Generator the controls are tried on when the package offers none (default: the first built-in one). */
  generator?: string;
}

export interface CheckReport {
  ok: boolean;
  lines: string[];
}

const DEFAULT_BATCH = 4;
const SEED = 1;

function run(file: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, timeout: 120_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err)
        reject(
          new Error(
            `${path.basename(file)} ${args[0]} failed: ${(stderr || err.message).trim().split('\n').slice(-3).join(' ')}`,
          ),
        );
      else resolve(stdout);
    });
  });
}

/** The package as npm would install it: a folder packed, a tarball unpacked, into a temp folder. */
async function unpack(target: string, work: string): Promise<string> {
  const abs = path.resolve(target);
  const stat = await fsp.stat(abs).catch(() => null);
  if (!stat) throw new Error(`no such file or directory: ${target}`);
  let tarball = abs;
  if (stat.isDirectory()) {
    const out = await run(
      'npm',
      ['pack', abs, '--pack-destination', work, '--ignore-scripts', '--silent'],
      work,
    );
    tarball = path.join(work, out.trim().split('\n').pop()!);
  } else if (!/\.(tgz|tar\.gz)$/i.test(abs)) {
    throw new Error(`${target} is neither a package folder nor a .tgz`);
  }
  const dir = path.join(work, 'unpacked');
  await fsp.mkdir(dir, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', dir], work);
  // npm tarballs hold one top folder, "package/" by convention.
  const [top] = await fsp.readdir(dir);
  if (!top) throw new Error(`${target} is an empty archive`);
  return path.join(dir, top);
}

const fmt = (x: number) =>
  Math.abs(x) >= 1000 || (Math.abs(x) < 0.001 && x !== 0) ? x.toExponential(2) : x.toFixed(3);
const shapeOf = (t: Tensor) => `[${t.shape.join(',')}]`;

async function stats(tf: Tf, t: Tensor): Promise<{ min: number; max: number; finite: boolean }> {
  const values = await t.data();
  let min = Infinity;
  let max = -Infinity;
  let finite = true;
  for (const v of values as Float32Array) {
    if (!Number.isFinite(v)) finite = false;
    else {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  void tf;
  return { min, max, finite };
}

async function timed<T>(work: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

/** Params for a control: given, else the schema's defaults, else its first example. */
function paramsFor(def: ControlDefinition, given: unknown): { params?: unknown; why?: string } {
  if (given !== undefined) return { params: given };
  const defaults = validateParams(def, {});
  if (defaults.valid) return { params: defaults.params };
  const examples = (def.paramsSchema as { examples?: unknown[] }).examples;
  if (Array.isArray(examples) && examples.length && validateParams(def, examples[0]).valid)
    return { params: validateParams(def, examples[0]).params };
  const errors = validateParams(def, {})
    .errors.map((e) => `${e.field.join('.') || '(params)'}: ${e.message}`)
    .join('; ');
  return { why: `needs params (${errors}); pass --params ${def.name}='{...}'` };
}

export async function checkPlugin(target: string, options: CheckOptions): Promise<CheckReport> {
  const lines: string[] = [];
  let ok = true;
  const say = (line: string) => lines.push(line);
  const problem = (line: string) => {
    ok = false;
    lines.push(`PROBLEM ${line}`);
  };
  const n = options.batch ?? DEFAULT_BATCH;
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'promptgen-check-'));
  const registry = new PluginRegistry({});
  try {
    let dir: string;
    try {
      dir = await unpack(target, work);
    } catch (e) {
      problem(`cannot read the package: ${(e as Error).message}`);
      return { ok, lines };
    }
    const info = await initBackend(options.backend);
    const runtime: PluginRuntime = { tf: info.tf, backend: info.backend };
    const tf = info.tf;
    say(`backend: ${info.backend}`);

    const plugin: LoadedPlugin = await loadPluginPackage(dir, { source: 'INSTALLED' });
    if (plugin.status !== 'LOADED') {
      problem(`${plugin.name}@${plugin.version} does not load: ${plugin.error}`);
      return { ok, lines };
    }
    say(`loaded ${plugin.name}@${plugin.version}`);
    // The built-ins, as on a server (their classifiers are on offer); the package itself replaces a built-in of its name.
    await registry.loadAll({ builtinDir: builtinPluginsDir() });
    registry.remove(plugin.name);
    const clashes = registry.conflicts(plugin);
    if (clashes.length) problem(`names taken on a server with the built-in plugins: ${clashes.join('; ')}`);
    try {
      const count = await loadDeclaredModels(plugin, tf);
      if (count) say(`declared models: ${count} loaded`);
    } catch (e) {
      problem((e as Error).message);
      return { ok, lines };
    }
    if (clashes.length) return { ok, lines };
    registry.add(plugin);
    const def = plugin.definition!;

    // Generators: a batch each, its value range, and that gradients reach z.
    const batches = new Map<string, { info: GeneratorInfo; images: Tensor; z: Tensor }>();
    for (const g of def.generators ?? []) {
      const ginfo: GeneratorInfo = { name: g.name, latentDim: g.latentDim, output: g.output };
      try {
        const { value: inst, ms: loadMs } = await timed(() => registry.loadGenerator(g.name, runtime));
        const z = tf.randomNormal([n, g.latentDim], 0, 1, 'float32', SEED);
        const { value: images, ms } = await timed(async () => {
          const out = inst.generate(z as never) as Tensor;
          await out.data();
          return out;
        });
        const want = [n, g.output.height, g.output.width, g.output.channels];
        const s = await stats(tf, images);
        const grad = tf.tidy(
          () => tf.grad((x: Tensor) => tf.sum(inst.generate(x as never) as Tensor))(z as never) as Tensor,
        );
        const gradNorm = (await tf.norm(grad).data())[0];
        grad.dispose();
        say(
          `generator ${g.name}: z [${n},${g.latentDim}] → ${shapeOf(images)} in [${fmt(s.min)}, ${fmt(s.max)}], ` +
            `load ${loadMs.toFixed(0)} ms, batch ${ms.toFixed(1)} ms, |∂Σimages/∂z| ${fmt(gradNorm)}`,
        );
        if (images.shape.join() !== want.join())
          problem(
            `generator ${g.name}: images are ${shapeOf(images)}, the definition says [${want.join(',')}]`,
          );
        if (!s.finite) problem(`generator ${g.name}: images hold NaN or infinite values`);
        else if (s.min < 0 || s.max > 1) problem(`generator ${g.name}: images must lie in [0, 1]`);
        if (!Number.isFinite(gradNorm) || gradNorm === 0)
          problem(
            `generator ${g.name}: no gradient reaches z (${fmt(gradNorm)}): generate() must be differentiable`,
          );
        batches.set(g.name, { info: ginfo, images, z });
      } catch (e) {
        problem(`generator ${g.name}: ${(e as Error).message}`);
      }
    }

    // What controls and classifiers see: the package's first generator, else the one asked for, else the first built-in.
    let base = batches.values().next().value as
      { info: GeneratorInfo; images: Tensor; z: Tensor } | undefined;
    if (!base && ((def.controls ?? []).length || (def.classifiers ?? []).length)) {
      const name =
        options.generator ??
        registry.generators().find((g) => g.plugin.source === 'BUILTIN')?.definition.name;
      const reg = name ? registry.generator(name) : undefined;
      if (!reg) {
        problem(`no generator to try the controls on${name ? `: unknown generator "${name}"` : ''}`);
        return { ok, lines };
      }
      const inst = await registry.loadGenerator(reg.definition.name, runtime);
      const z = tf.randomNormal([n, reg.definition.latentDim], 0, 1, 'float32', SEED);
      base = {
        info: {
          name: reg.definition.name,
          latentDim: reg.definition.latentDim,
          output: reg.definition.output,
        },
        images: inst.generate(z as never) as Tensor,
        z,
      };
      say(`controls are tried on generator ${reg.definition.name}`);
    }

    for (const c of def.classifiers ?? []) {
      try {
        const clf = await registry.loadClassifier(c.name, base!.info, runtime);
        const { value: probs, ms } = await timed(async () => {
          const p = clf.probs(base!.images as never) as Tensor;
          await p.data();
          return p;
        });
        const sums = (await tf.sum(probs, 1).data()) as Float32Array;
        say(
          `classifier ${c.name}: ${shapeOf(base!.images)} → ${shapeOf(probs)} (${clf.numClasses} classes), ${ms.toFixed(1)} ms`,
        );
        if (probs.shape.join() !== [n, clf.numClasses].join())
          problem(`classifier ${c.name}: probs are ${shapeOf(probs)}, expected [${n},${clf.numClasses}]`);
        if (![...sums].every((v) => Math.abs(v - 1) < 1e-3))
          problem(`classifier ${c.name}: probabilities do not sum to 1 per image`);
        probs.dispose();
      } catch (e) {
        problem(`classifier ${c.name}: ${(e as Error).message}`);
      }
    }

    for (const c of def.controls ?? []) {
      const chosen = paramsFor(c, options.params?.[c.name]);
      if (chosen.why) {
        problem(`control ${c.name}: ${chosen.why}`);
        continue;
      }
      try {
        const { value: inst, ms: loadMs } = await timed(() =>
          registry.loadControl(c.name, chosen.params, base!.info, runtime, { cache: false }),
        );
        const gen = await registry.loadGenerator(base!.info.name, runtime);
        if (inst.calibrate)
          await inst.calibrate(async (k) =>
            gen.generate(tf.randomNormal([k, base!.info.latentDim], 0, 1, 'float32', SEED + 1) as never),
          );
        let seed = 7;
        const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646; // Lehmer: reproducible conditions
        const condition = c.conditionDim
          ? (inst.sampleCondition?.(n, random) as Tensor | undefined)
          : undefined;
        const extras = () =>
          ({
            z: base!.z,
            ...(condition ? { condition } : {}),
            ...(c.paired ? { pairImages: base!.images } : {}),
          }) as never;
        const { value: energy, ms } = await timed(async () => {
          const e = inst.energy(base!.images as never, extras()) as Tensor;
          await e.data();
          return e;
        });
        const s = await stats(tf, energy);
        const grad = tf.tidy(
          () =>
            tf.grad((x: Tensor) => tf.sum(inst.energy(x as never, extras()) as Tensor))(
              base!.images as never,
            ) as Tensor,
        );
        const gradNorm = (await tf.norm(grad).data())[0];
        grad.dispose();
        say(
          `control ${c.name} ${JSON.stringify(chosen.params)}: energy ${shapeOf(energy)} in [${fmt(s.min)}, ${fmt(s.max)}], ` +
            `|∂ΣE/∂images| ${fmt(gradNorm)}, load ${loadMs.toFixed(0)} ms, energy ${ms.toFixed(1)} ms`,
        );
        if (energy.shape.join() !== String(n))
          problem(`control ${c.name}: energy is ${shapeOf(energy)}, expected one value per image [${n}]`);
        if (!s.finite) problem(`control ${c.name}: energy holds NaN or infinite values`);
        if (!Number.isFinite(gradNorm)) problem(`control ${c.name}: the energy's gradient is not finite`);
        else if (gradNorm === 0)
          problem(
            `control ${c.name}: the energy's gradient is zero: energy() must be differentiable in the images`,
          );
        energy.dispose();
        condition?.dispose();
        inst.dispose();
      } catch (e) {
        problem(`control ${c.name}: ${(e as Error).message}`);
      }
    }
    for (const b of batches.values()) {
      b.images.dispose();
      b.z.dispose();
    }
    return { ok, lines };
  } finally {
    await registry.dispose().catch(() => undefined);
    await fsp.rm(work, { recursive: true, force: true });
  }
}
