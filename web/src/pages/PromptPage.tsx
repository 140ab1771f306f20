/**
 * One prompt: its training live (status, progress, curves, previews, cancel),
 * then its result (metrics, sampling, before/after, stacking). The page draws
 * from the stored state first (`history`, `sampleSets`), then from the
 * subscriptions, whose first event is the latest state: a page opened late or
 * reloaded shows what one open from the start shows.
 */
import { useMemo, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { Link } from 'wouter';
import {
  CancelPromptMutation,
  PromptQuery,
  SampleBatchesSubscription,
  SampleMutation,
  TrainingProgressSubscription,
} from '../operations';
import type { ProgressFieldsFragment, PromptPageQuery, SampleSetFieldsFragment } from '../gql/graphql';
import { Curves } from '../components/Curves';
import { SampleSetView } from '../components/SampleSetView';
import { StatusBadge } from '../components/StatusBadge';
import { FieldError } from '../components/FieldError';
import { Gallery } from '../components/Gallery';
import { MetricsTable } from '../components/MetricsTable';
import { TERMINAL, formatNumber, formatSeconds, formatTime, type UserErrorLike } from '../format';

type PromptData = NonNullable<PromptPageQuery['prompt']>;

/** History then live events, one point per step (a live event replaces a stored one of its step). */
function mergeProgress(
  history: readonly ProgressFieldsFragment[],
  live: readonly ProgressFieldsFragment[],
): ProgressFieldsFragment[] {
  const byStep = new Map<number, ProgressFieldsFragment>();
  for (const p of [...history, ...live]) if (p.step > 0 && p.loss != null) byStep.set(p.step, p);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

function mergeSets(...lists: ReadonlyArray<readonly SampleSetFieldsFragment[]>): SampleSetFieldsFragment[] {
  const byId = new Map<string, SampleSetFieldsFragment>();
  for (const list of lists) for (const s of list) byId.set(s.id, s);
  return [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export function PromptPage({ id }: { id: string }) {
  const [{ data, error, fetching }, refetch] = useQuery({
    query: PromptQuery,
    variables: { id },
    requestPolicy: 'network-only',
  });
  const prompt = data?.prompt;
  const storedTerminal = prompt ? TERMINAL.has(prompt.status) : true;

  const [live] = useSubscription(
    { query: TrainingProgressSubscription, variables: { id }, pause: storedTerminal },
    (prev: ProgressFieldsFragment[] = [], event) => {
      const p = event.trainingProgress;
      // The stream ends with the terminal status: reload the stored result (metrics, asGenerator, error).
      if (TERMINAL.has(p.status)) setTimeout(() => refetch({ requestPolicy: 'network-only' }), 0);
      return [...prev, p];
    },
  );
  const [previews] = useSubscription(
    { query: SampleBatchesSubscription, variables: { id }, pause: storedTerminal },
    (prev: SampleSetFieldsFragment[] = [], event) => [...prev, event.sampleBatches],
  );
  const [extraSets, setExtraSets] = useState<SampleSetFieldsFragment[]>([]);

  const liveEvents = useMemo(() => live.data ?? [], [live.data]);
  const latest = liveEvents.at(-1) ?? prompt?.progress ?? null;
  const points = useMemo(
    () => mergeProgress(prompt?.history ?? [], liveEvents),
    [prompt?.history, liveEvents],
  );
  const sets = useMemo(
    () => mergeSets(prompt?.sampleSets.nodes ?? [], previews.data ?? [], extraSets),
    [prompt?.sampleSets.nodes, previews.data, extraSets],
  );

  if (error) return <p role="alert">Could not load the prompt: {error.message}</p>;
  if (!data) return <p aria-busy={fetching}>Loading…</p>;
  if (!prompt) return <p role="alert">No prompt with id {id}.</p>;

  // The stored status wins once terminal; before that the newest live event is the truth.
  const status = TERMINAL.has(prompt.status) ? prompt.status : (latest?.status ?? prompt.status);
  const latestPreview = sets.find((s) => s.kind === 'PREVIEW');
  return (
    <>
      <h1>
        {prompt.name ?? 'Unnamed prompt'} <StatusBadge status={status} />
      </h1>
      <p className="muted">
        <code>{prompt.id}</code> · generator{' '}
        {prompt.generator.basePrompt ? (
          <Link href={`/prompts/${prompt.generator.basePrompt.id}`}>{prompt.generator.name}</Link>
        ) : (
          <code>{prompt.generator.name}</code>
        )}{' '}
        · created {formatTime(prompt.createdAt)}
        {prompt.finishedAt && ` · finished ${formatTime(prompt.finishedAt)}`}
      </p>
      <Terms prompt={prompt} />
      {prompt.error && (
        <p role="alert" className="error-text">
          {prompt.error}
        </p>
      )}
      <Training prompt={prompt} status={status} latest={latest} />
      <section aria-labelledby="curves-h">
        <h2 id="curves-h">Curves</h2>
        {points.length > 0 ? (
          <Curves points={points} />
        ) : (
          <p className="muted">No training step reported yet.</p>
        )}
      </section>
      {latestPreview && !TERMINAL.has(status) && (
        <section aria-labelledby="preview-h">
          <h2 id="preview-h">Latest preview</h2>
          <SampleSetView set={latestPreview} testId="latest-preview" />
        </section>
      )}
      {prompt.status === 'SUCCEEDED' && (
        <Result prompt={prompt} onSampled={(s) => setExtraSets((x) => [s, ...x])} />
      )}
      <Gallery prompt={prompt} sets={sets} onMore={(more) => setExtraSets((x) => [...x, ...more])} />
    </>
  );
}

function Terms({ prompt }: { prompt: PromptData }) {
  const t = prompt.training;
  return (
    <details>
      <summary>Controls and training options</summary>
      <ul>
        {prompt.controls.map((c, i) => (
          <li key={i}>
            {c.control.title} (<code>{c.control.name}</code>), λ = {c.weight}, params{' '}
            <code>{JSON.stringify(c.params)}</code>
          </li>
        ))}
      </ul>
      <p>
        {t.steps} steps · batch {t.batchSize} · learning rate {t.learningRate} · {t.flowBlocks} flow blocks ×{' '}
        {t.hiddenUnits} units · seed {t.seed} · preview every {t.previewEvery}
      </p>
    </details>
  );
}

function Training({
  prompt,
  status,
  latest,
}: {
  prompt: PromptData;
  status: string;
  latest: ProgressFieldsFragment | null;
}) {
  const [cancelled, cancel] = useMutation(CancelPromptMutation);
  const [problem, setProblem] = useState<string | null>(null);
  const total = latest?.totalSteps ?? prompt.training.steps;
  const step = latest?.step ?? 0;
  const doCancel = async () => {
    setProblem(null);
    const res = await cancel({ id: prompt.id });
    if (res.error) setProblem(res.error.message);
    else if (res.data?.cancelPrompt.userErrors.length)
      setProblem(res.data.cancelPrompt.userErrors.map((e) => e.message).join('; '));
  };
  return (
    <section aria-labelledby="training-h">
      <h2 id="training-h">Training</h2>
      <div className="progress-row">
        <label htmlFor="training-progress">
          Step <span data-testid="step">{step}</span> of <span data-testid="total-steps">{total}</span>
        </label>
        <progress id="training-progress" max={total} value={step} data-testid="progress" />
      </div>
      <p className="muted">
        {formatNumber(latest?.stepsPerSecond, 1)} steps/s · ETA{' '}
        {TERMINAL.has(status) ? '–' : formatSeconds(latest?.etaSeconds)} · loss {formatNumber(latest?.loss)} ·
        log-det {formatNumber(latest?.logDet)}
        {latest?.energies.map((e) => ` · E ${e.control} ${formatNumber(e.value)}`)}
      </p>
      {!TERMINAL.has(status) && (
        <button type="button" className="danger" onClick={doCancel} disabled={cancelled.fetching}>
          Cancel training
        </button>
      )}
      {problem && (
        <p role="alert" className="error-text">
          {problem}
        </p>
      )}
    </section>
  );
}

function Result({
  prompt,
  onSampled,
}: {
  prompt: PromptData;
  onSampled: (s: SampleSetFieldsFragment) => void;
}) {
  const conditionDim = prompt.controls.reduce((n, c) => n + (c.control.conditionDim ?? 0), 0);
  const [count, setCount] = useState('8');
  const [seed, setSeed] = useState('1');
  const [truncation, setTruncation] = useState('1');
  const [condition, setCondition] = useState(conditionDim ? new Array(conditionDim).fill(0).join(', ') : '');
  const [errors, setErrors] = useState<readonly UserErrorLike[]>([]);
  const [latest, setLatest] = useState<SampleSetFieldsFragment | null>(null);
  const [pair, setPair] = useState<[SampleSetFieldsFragment, SampleSetFieldsFragment] | null>(null);
  const [busy, setBusy] = useState(false);
  const [, sample] = useMutation(SampleMutation);

  const input = () => ({
    count: count === '' ? undefined : Number(count),
    seed: seed === '' ? undefined : Number(seed),
    truncation: truncation === '' ? undefined : Number(truncation),
  });
  const run = async (variables: Parameters<typeof sample>[0]) => {
    const res = await sample(variables);
    if (res.error) return { set: null, errors: [{ message: res.error.message, code: 'ERROR', field: null }] };
    return { set: res.data?.sample.sampleSet ?? null, errors: res.data?.sample.userErrors ?? [] };
  };
  const conditionValue = () => (conditionDim ? condition.split(',').map((x) => Number(x.trim())) : undefined);

  const doSample = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const r = await run({ input: { prompt: prompt.id, ...input(), condition: conditionValue() } });
    setBusy(false);
    setErrors(r.errors);
    if (r.set) {
      setLatest(r.set);
      onSampled(r.set);
    }
  };
  const doBeforeAfter = async () => {
    setBusy(true);
    const [before, after] = await Promise.all([
      run({ input: { generator: prompt.generator.name, ...input() } }),
      run({ input: { prompt: prompt.id, ...input(), condition: conditionValue() } }),
    ]);
    setBusy(false);
    setErrors([...before.errors, ...after.errors]);
    if (before.set && after.set) {
      setPair([before.set, after.set]);
      onSampled(after.set);
    }
  };
  const errs = (name: string) => errors.filter((e) => e.field?.[0] === name).map((e) => e.message);
  const other = errors.filter(
    (e) => !['count', 'seed', 'truncation', 'condition'].includes(e.field?.[0] ?? ''),
  );

  return (
    <>
      <section aria-labelledby="metrics-h">
        <h2 id="metrics-h">Metrics</h2>
        <MetricsTable metrics={prompt.metrics} />
      </section>
      <section aria-labelledby="sample-h">
        <h2 id="sample-h">Sample</h2>
        <form className="sample-form" onSubmit={doSample} noValidate>
          <div className="field">
            <label htmlFor="sample-count">Count</label>
            <input
              id="sample-count"
              type="number"
              min={1}
              value={count}
              onChange={(e) => setCount(e.target.value)}
              aria-describedby="sample-count-error"
            />
            <FieldError id="sample-count-error" messages={errs('count')} />
          </div>
          <div className="field">
            <label htmlFor="sample-seed">Seed</label>
            <input
              id="sample-seed"
              type="number"
              min={0}
              value={seed}
              onChange={(e) => setSeed(e.target.value)}
              aria-describedby="sample-seed-error"
            />
            <FieldError id="sample-seed-error" messages={errs('seed')} />
          </div>
          <div className="field">
            <label htmlFor="sample-truncation">Truncation (scales ε)</label>
            <input
              id="sample-truncation"
              type="number"
              step="0.05"
              min={0}
              value={truncation}
              onChange={(e) => setTruncation(e.target.value)}
              aria-describedby="sample-truncation-error"
            />
            <FieldError id="sample-truncation-error" messages={errs('truncation')} />
          </div>
          {conditionDim > 0 && (
            <div className="field">
              <label htmlFor="sample-condition">Condition ({conditionDim} numbers, comma-separated)</label>
              <input
                id="sample-condition"
                value={condition}
                onChange={(e) => setCondition(e.target.value)}
                aria-describedby="sample-condition-error"
              />
              <FieldError id="sample-condition-error" messages={errs('condition')} />
            </div>
          )}
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              Sample
            </button>
            <button type="button" onClick={doBeforeAfter} disabled={busy}>
              Before / after
            </button>
            {prompt.asGenerator && (
              <Link
                href={`/compose?generator=${encodeURIComponent(prompt.asGenerator.name)}`}
                className="button-link"
              >
                Stack a prompt on this one
              </Link>
            )}
          </div>
          {other.length > 0 && (
            <div role="alert" className="field-error">
              {other.map((e, i) => (
                <p key={i}>{e.message}</p>
              ))}
            </div>
          )}
        </form>
        {latest && <SampleSetView set={latest} testId="latest-sample" />}
        {pair && (
          <div className="before-after" data-testid="before-after">
            <SampleSetView
              set={pair[0]}
              caption={`Before: base generator ${prompt.generator.name}, seed ${pair[0].seed}`}
              testId="before"
            />
            <SampleSetView
              set={pair[1]}
              caption={`After: this prompt, seed ${pair[1].seed}`}
              testId="after"
            />
          </div>
        )}
      </section>
    </>
  );
}
