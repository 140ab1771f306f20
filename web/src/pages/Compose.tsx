/**
 * Compose a prompt: a generator, control terms (control, λ, params from the
 * control's JSON Schema) and training options. The form does not validate
 * params itself: the server is the judge, and each userError it returns is
 * shown beside the field its `field` path names.
 */
import { useMemo, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { useLocation, useSearch } from 'wouter';
import Form from '@rjsf/core';
import validator from '@rjsf/validator-ajv8';
import { getDefaultFormState, type ErrorSchema, type RJSFSchema } from '@rjsf/utils';
import { CatalogQuery, CreatePromptMutation } from '../operations';
import type { CatalogQuery as CatalogData } from '../gql/graphql';
import { WeightInput } from '../components/WeightInput';
import { FieldError } from '../components/FieldError';
import { TRAINING_DEFAULTS, defaultPreviewEvery, defaultSteps, type TrainingKey } from '../training-defaults';
import type { UserErrorLike } from '../format';

type ControlItem = CatalogData['controls'][number];

interface Term {
  key: number;
  control: string;
  weight: number;
  params: Record<string, unknown>;
}

const TRAINING_FIELDS: Array<{ key: TrainingKey; label: string; help: string }> = [
  { key: 'steps', label: 'Steps', help: 'optimizer steps' },
  { key: 'batchSize', label: 'Batch size', help: 'latents per step' },
  { key: 'learningRate', label: 'Learning rate', help: 'Adam step size' },
  { key: 'flowBlocks', label: 'Flow blocks', help: 'coupling blocks of the flow' },
  { key: 'hiddenUnits', label: 'Hidden units', help: 'width of each block' },
  { key: 'seed', label: 'Seed', help: 'initialisation and training noise' },
  { key: 'previewEvery', label: 'Preview every', help: 'steps between preview batches (0: none)' },
];

/** Server errors keyed by their field path joined with "/" ("controls/0/weight"). */
type ErrorMap = Map<string, string[]>;

function errorsByPath(errors: readonly UserErrorLike[]): ErrorMap {
  const map: ErrorMap = new Map();
  for (const e of errors) {
    const key = (e.field ?? []).join('/');
    map.set(key, [...(map.get(key) ?? []), e.message]);
  }
  return map;
}

/** The userErrors under controls/i/params as an rjsf ErrorSchema, so each shows at its own widget. */
function paramsErrorSchema(errors: readonly UserErrorLike[], term: number): ErrorSchema | undefined {
  let root: Record<string, unknown> | undefined;
  for (const e of errors) {
    const f = e.field ?? [];
    // An error on params as a whole (f.length === 3) is shown above the form, not inside it as well.
    if (f[0] !== 'controls' || f[1] !== String(term) || f[2] !== 'params' || f.length === 3) continue;
    root ??= {};
    let node = root;
    for (const part of f.slice(3)) node = (node[part] ??= {}) as Record<string, unknown>;
    node.__errors = [...((node.__errors as string[] | undefined) ?? []), e.message];
  }
  return root as ErrorSchema | undefined;
}

function defaultParams(control: ControlItem | undefined): Record<string, unknown> {
  if (!control) return {};
  return (getDefaultFormState(validator, control.paramsSchema as RJSFSchema, undefined) ?? {}) as Record<
    string,
    unknown
  >;
}

export function ComposePage() {
  const [{ data, error }] = useQuery({ query: CatalogQuery });
  const search = new URLSearchParams(useSearch());
  const [, navigate] = useLocation();
  const [generator, setGenerator] = useState(search.get('generator') ?? '');
  const [name, setName] = useState('');
  const [terms, setTerms] = useState<Term[]>([]);
  const [nextKey, setNextKey] = useState(0);
  const [training, setTraining] = useState<Partial<Record<TrainingKey, string>>>({});
  const [userErrors, setUserErrors] = useState<readonly UserErrorLike[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const [created, create] = useMutation(CreatePromptMutation);

  const controls = useMemo(() => (data?.controls ?? []).filter((c) => c.available), [data]);
  const errs = useMemo(() => errorsByPath(userErrors), [userErrors]);
  if (error) return <p role="alert">Could not load generators and controls: {error.message}</p>;
  if (!data) return <p>Loading…</p>;
  const base = data.generators.filter((g) => !g.basePrompt && g.available);
  const trained = data.generators.filter((g) => g.basePrompt && g.available);
  const chosenGenerator = generator || base[0]?.name || '';

  const addTerm = () => {
    const control = controls[0];
    setTerms([
      ...terms,
      { key: nextKey, control: control?.name ?? '', weight: 1, params: defaultParams(control) },
    ]);
    setNextKey(nextKey + 1);
  };
  const updateTerm = (i: number, patch: Partial<Term>) =>
    setTerms(terms.map((t, j) => (j === i ? { ...t, ...patch } : t)));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setFailure(null);
    const options: Record<string, number> = {};
    for (const { key } of TRAINING_FIELDS) {
      const raw = training[key];
      if (raw != null && raw.trim() !== '') options[key] = Number(raw);
    }
    const res = await create({
      input: {
        generator: chosenGenerator,
        name: name.trim() || undefined,
        controls: terms.map((t) => ({
          control: t.control,
          weight: Number.isFinite(t.weight) ? t.weight : undefined,
          params: t.params,
        })),
        training: options,
      },
    });
    if (res.error) {
      setUserErrors([]);
      setFailure(res.error.message);
      return;
    }
    const payload = res.data!.createPrompt;
    setUserErrors(payload.userErrors);
    if (payload.prompt && payload.userErrors.length === 0) navigate(`/prompts/${payload.prompt.id}`);
  };

  // A conditional control (one with a conditionDim) makes the server train longer by default.
  const conditional = terms.some((t) => (controls.find((c) => c.name === t.control)?.conditionDim ?? 0) > 0);
  const stepsByDefault = defaultSteps(conditional);
  const steps = Number(training.steps) > 0 ? Number(training.steps) : stepsByDefault;
  const shownDefault = (key: TrainingKey) =>
    key === 'previewEvery'
      ? defaultPreviewEvery(steps)
      : key === 'steps'
        ? stepsByDefault
        : TRAINING_DEFAULTS[key];
  const matched = new Set<string>(['generator', 'name', 'controls']);
  terms.forEach((_, i) =>
    ['', '/control', '/weight', '/params'].forEach((s) => matched.add(`controls/${i}${s}`)),
  );
  TRAINING_FIELDS.forEach(({ key }) => matched.add(`training/${key}`));
  const unplaced = userErrors.filter((e) => {
    const f = e.field ?? [];
    if (f[0] === 'controls' && f[2] === 'params' && Number(f[1]) < terms.length) return false;
    return !matched.has(f.join('/'));
  });

  return (
    <>
      <h1>Compose a prompt</h1>
      <form onSubmit={submit} noValidate aria-describedby={unplaced.length ? 'form-errors' : undefined}>
        {(unplaced.length > 0 || failure) && (
          <div id="form-errors" role="alert" className="field-error">
            {failure && <p>{failure}</p>}
            {unplaced.map((e, i) => (
              <p key={i}>
                {e.field?.length ? <code>{e.field.join('.')}</code> : null} {e.message}
              </p>
            ))}
          </div>
        )}
        <fieldset>
          <legend>Generator</legend>
          <div className="field">
            <label htmlFor="generator">Generator</label>
            <select
              id="generator"
              value={chosenGenerator}
              onChange={(e) => setGenerator(e.target.value)}
              aria-describedby="generator-error"
            >
              <optgroup label="Base generators">
                {base.map((g) => (
                  <option key={g.id} value={g.name}>
                    {g.title} ({g.name})
                  </option>
                ))}
              </optgroup>
              {trained.length > 0 && (
                <optgroup label="Trained prompts (iterative control)">
                  {trained.map((g) => (
                    <option key={g.id} value={g.name}>
                      {g.basePrompt?.name ?? g.title} ({g.name})
                    </option>
                  ))}
                </optgroup>
              )}
            </select>
            <FieldError id="generator-error" messages={errs.get('generator')} />
          </div>
          <div className="field">
            <label htmlFor="prompt-name">Name (optional)</label>
            <input
              id="prompt-name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              aria-describedby="name-error"
            />
            <FieldError id="name-error" messages={errs.get('name')} />
          </div>
        </fieldset>

        <fieldset>
          <legend>Control terms (energies are summed)</legend>
          <FieldError id="controls-error" messages={errs.get('controls')} />
          {terms.map((t, i) => {
            const control = controls.find((c) => c.name === t.control);
            return (
              <section
                key={t.key}
                className="term"
                aria-label={`Control term ${i + 1}`}
                data-testid={`term-${i}`}
              >
                <h3>Term {i + 1}</h3>
                <FieldError id={`term${i}-error`} messages={errs.get(`controls/${i}`)} />
                <div className="field">
                  <label htmlFor={`term${i}-control`}>Control</label>
                  <select
                    id={`term${i}-control`}
                    value={t.control}
                    aria-describedby={`term${i}-control-error`}
                    onChange={(e) => {
                      const c = controls.find((x) => x.name === e.target.value);
                      updateTerm(i, { control: e.target.value, params: defaultParams(c) });
                    }}
                  >
                    {controls.map((c) => (
                      <option key={c.id} value={c.name}>
                        {c.title} ({c.name})
                      </option>
                    ))}
                  </select>
                  <FieldError id={`term${i}-control-error`} messages={errs.get(`controls/${i}/control`)} />
                </div>
                {control?.description && <p className="muted">{control.description}</p>}
                <WeightInput
                  id={`term${i}-weight`}
                  value={t.weight}
                  onChange={(w) => updateTerm(i, { weight: w })}
                  describedBy={`term${i}-weight-error`}
                />
                <FieldError id={`term${i}-weight-error`} messages={errs.get(`controls/${i}/weight`)} />
                {control && (
                  <div className="params" data-testid={`term-${i}-params`}>
                    <h4>Params</h4>
                    <FieldError id={`term${i}-params-error`} messages={errs.get(`controls/${i}/params`)} />
                    <Form
                      key={control.name}
                      tagName="div"
                      idPrefix={`term${i}-params`}
                      schema={control.paramsSchema as RJSFSchema}
                      formData={t.params}
                      validator={validator}
                      noHtml5Validate
                      showErrorList={false}
                      extraErrors={paramsErrorSchema(userErrors, i)}
                      uiSchema={{ 'ui:submitButtonOptions': { norender: true } }}
                      onChange={(e) =>
                        updateTerm(i, { params: (e.formData ?? {}) as Record<string, unknown> })
                      }
                    />
                  </div>
                )}
                <button
                  type="button"
                  className="secondary"
                  onClick={() => setTerms(terms.filter((_, j) => j !== i))}
                >
                  Remove term {i + 1}
                </button>
              </section>
            );
          })}
          <button type="button" onClick={addTerm} disabled={controls.length === 0}>
            Add control term
          </button>
        </fieldset>

        <fieldset>
          <legend>Training options (empty: the server's default, shown greyed)</legend>
          <div className="training-grid">
            {TRAINING_FIELDS.map(({ key, label, help }) => (
              <div className="field" key={key}>
                <label htmlFor={`training-${key}`}>
                  {label}{' '}
                  <span className="muted">
                    ({help}; default {shownDefault(key)})
                  </span>
                </label>
                <input
                  id={`training-${key}`}
                  type="number"
                  step="any"
                  inputMode="decimal"
                  placeholder={String(shownDefault(key))}
                  value={training[key] ?? ''}
                  aria-describedby={`training-${key}-error`}
                  onChange={(e) => setTraining({ ...training, [key]: e.target.value })}
                />
                <FieldError id={`training-${key}-error`} messages={errs.get(`training/${key}`)} />
              </div>
            ))}
          </div>
        </fieldset>
        <button type="submit" className="primary" disabled={created.fetching}>
          {created.fetching ? 'Starting…' : 'Start training'}
        </button>
      </form>
    </>
  );
}
