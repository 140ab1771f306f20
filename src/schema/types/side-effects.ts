/**
 * The typed side-effect audit of a trained prompt (issue #14): for every named
 * classifier that fits the generator's output, the class marginals of the base
 * generator and of the prompt on the same ε, largest shift first. The same data
 * is in `metrics.sideEffects` (JSON); this is its typed view.
 */
import { Field, Float, Int, ObjectType } from 'type-graphql';

@ObjectType('ClassShareChange', {
  description: 'One class of an audited classifier: its share of images before and after.',
})
export class ClassShareChange {
  @Field(() => String) className!: string;
  @Field(() => Float, {
    description: "Share of the base generator's images the classifier assigns to this class (argmax).",
  })
  base!: number;
  @Field(() => Float, { description: "Share of the prompt's images, same ε." }) prompt!: number;
  @Field(() => Float, { description: 'prompt − base.' }) change!: number;
}

@ObjectType('ClassifierShift', {
  description: 'How a prompt moved the class marginal of one named classifier (base vs prompt, same ε).',
})
export class ClassifierShift {
  @Field(() => String) classifier!: string;
  @Field(() => Boolean, {
    description: "True when one of the prompt's controls uses this classifier (the steered attribute).",
  })
  steered!: boolean;
  @Field(() => Int) samples!: number;
  @Field(() => Float, {
    description:
      'Total variation ½ Σ |prompt − base| of the counted marginals (0–1): the share of images that changed class, at least.',
  })
  shift!: number;
  @Field(() => [String]) classNames!: string[];
  @Field(() => [Float], {
    description: 'Counted marginal (share of images per class, argmax), base generator; in classNames order.',
  })
  baseMarginal!: number[];
  @Field(() => [Float], { description: 'Counted marginal of the prompt.' }) promptMarginal!: number[];
  @Field(() => [Float], { description: 'Mean class probability, base generator.' })
  baseMeanProbability!: number[];
  @Field(() => [Float], { description: 'Mean class probability of the prompt.' })
  promptMeanProbability!: number[];
  @Field(() => [ClassShareChange], { description: 'Every class, largest |change| first.' })
  classes!: ClassShareChange[];
}

const isNumbers = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** The typed audit out of a prompt's stored metrics; [] when absent (older prompts) or malformed. */
export function sideEffectsOf(metrics: Record<string, unknown> | null): ClassifierShift[] {
  const audit = metrics?.sideEffects as { classifiers?: unknown } | undefined;
  if (!audit || !Array.isArray(audit.classifiers)) return [];
  const out: ClassifierShift[] = [];
  for (const c of audit.classifiers as Array<Record<string, unknown>>) {
    if (!c || typeof c.classifier !== 'string' || typeof c.shift !== 'number' || !Array.isArray(c.classNames))
      continue;
    if (![c.baseMarginal, c.promptMarginal, c.baseMeanProbability, c.promptMeanProbability].every(isNumbers))
      continue;
    const classes = Array.isArray(c.classes) ? (c.classes as Array<Record<string, unknown>>) : [];
    out.push({
      classifier: c.classifier,
      steered: c.steered === true,
      samples: typeof c.samples === 'number' ? c.samples : 0,
      shift: c.shift,
      classNames: (c.classNames as unknown[]).map(String),
      baseMarginal: c.baseMarginal as number[],
      promptMarginal: c.promptMarginal as number[],
      baseMeanProbability: c.baseMeanProbability as number[],
      promptMeanProbability: c.promptMeanProbability as number[],
      classes: classes
        .filter(
          (x) =>
            x &&
            typeof x.className === 'string' &&
            typeof x.base === 'number' &&
            typeof x.prompt === 'number' &&
            typeof x.change === 'number',
        )
        .map((x) => ({
          className: x.className as string,
          base: x.base as number,
          prompt: x.prompt as number,
          change: x.change as number,
        })),
    });
  }
  return out.sort((a, b) => b.shift - a.shift);
}
