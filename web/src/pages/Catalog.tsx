/** Generators (with samples on demand), trained prompts usable as generators, controls with their params, plugins. */
import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { Link } from 'wouter';
import { CatalogQuery, SampleMutation } from '../operations';
import type { CatalogQuery as CatalogData, SampleSetFieldsFragment } from '../gql/graphql';
import { SampleSetView } from '../components/SampleSetView';
import { StatusBadge } from '../components/StatusBadge';

type GeneratorItem = CatalogData['generators'][number];
type ControlItem = CatalogData['controls'][number];

export function CatalogPage() {
  const [{ data, error, fetching }] = useQuery({ query: CatalogQuery });
  if (error) return <p role="alert">Could not load the catalog: {error.message}</p>;
  if (!data) return <p aria-busy={fetching}>Loading the catalog…</p>;
  const base = data.generators.filter((g) => !g.basePrompt);
  const trained = data.generators.filter((g) => g.basePrompt);
  return (
    <>
      <h1>Catalog</h1>
      <section aria-labelledby="generators-h">
        <h2 id="generators-h">Generators</h2>
        <div className="cards">
          {base.map((g) => (
            <GeneratorCard key={g.id} generator={g} />
          ))}
          {base.length === 0 && <p>No generator is available: install a plugin on the Admin page.</p>}
        </div>
      </section>
      <section aria-labelledby="trained-h">
        <h2 id="trained-h">Trained prompts, usable as generators</h2>
        <div className="cards">
          {trained.map((g) => (
            <GeneratorCard key={g.id} generator={g} />
          ))}
          {trained.length === 0 && <p>None yet: a prompt that finished training appears here.</p>}
        </div>
      </section>
      <section aria-labelledby="controls-h">
        <h2 id="controls-h">Controls</h2>
        <p className="muted">Open a control to see its parameters, from its JSON Schema.</p>
        {data.controls.map((c) => (
          <ControlCard key={c.id} control={c} />
        ))}
      </section>
      <section aria-labelledby="plugins-h">
        <h2 id="plugins-h">Plugins</h2>
        <div className="table-wrap">
          <table data-testid="plugins-table">
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Version</th>
                <th scope="col">Source</th>
                <th scope="col">Status</th>
                <th scope="col">Provides</th>
              </tr>
            </thead>
            <tbody>
              {data.plugins.map((p) => (
                <tr key={p.id}>
                  <td>{p.name}</td>
                  <td>{p.version}</td>
                  <td>{p.source}</td>
                  <td>
                    <StatusBadge status={p.status} />
                    {p.error && <div className="error-text">{p.error}</div>}
                  </td>
                  <td>
                    {[...p.generators.map((g) => g.name), ...p.controls.map((c) => c.name)].join(', ') || '–'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}

function GeneratorCard({ generator: g }: { generator: GeneratorItem }) {
  const [result, sample] = useMutation(SampleMutation);
  const [set, setSet] = useState<SampleSetFieldsFragment | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const draw = async () => {
    setProblem(null);
    const res = await sample({ input: { generator: g.name, count: 8 } });
    const payload = res.data?.sample;
    if (res.error) setProblem(res.error.message);
    else if (payload?.userErrors.length) setProblem(payload.userErrors.map((e) => e.message).join('; '));
    else if (payload?.sampleSet) setSet(payload.sampleSet);
  };
  return (
    <article className="card" data-testid={`generator-${g.name}`} aria-label={`Generator ${g.title}`}>
      <h3>{g.title}</h3>
      <p className="muted">
        <code>{g.name}</code> · {g.output.width}×{g.output.height}×{g.output.channels} · latent {g.latentDim}
        {g.plugin && ` · ${g.plugin.name} ${g.plugin.version}`}
      </p>
      {g.description && <p>{g.description}</p>}
      {g.basePrompt && (
        <p>
          Trained prompt:{' '}
          <Link href={`/prompts/${g.basePrompt.id}`}>{g.basePrompt.name ?? g.basePrompt.id}</Link>
        </p>
      )}
      <div className="actions">
        <button type="button" onClick={draw} disabled={result.fetching || !g.available}>
          {result.fetching ? 'Drawing…' : 'Draw samples'}
        </button>
        <Link href={`/compose?generator=${encodeURIComponent(g.name)}`}>Compose a prompt on it</Link>
      </div>
      {problem && (
        <p role="alert" className="error-text">
          {problem}
        </p>
      )}
      {set && <SampleSetView set={set} />}
    </article>
  );
}

interface SchemaProperty {
  type?: string | string[];
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  enum?: unknown[];
  items?: SchemaProperty;
}

/** A readable range for a JSON Schema number, e.g. "0 < x ≤ 100". */
function rangeOf(p: SchemaProperty | undefined): string {
  if (!p) return '';
  const lo =
    p.exclusiveMinimum != null ? `${p.exclusiveMinimum} <` : p.minimum != null ? `${p.minimum} ≤` : '';
  const hi =
    p.exclusiveMaximum != null ? `< ${p.exclusiveMaximum}` : p.maximum != null ? `≤ ${p.maximum}` : '';
  if (p.enum) return `one of ${p.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  return lo || hi ? `${lo} x ${hi}`.trim() : '';
}

export function ControlCard({ control: c }: { control: ControlItem }) {
  const schema = (c.paramsSchema ?? {}) as {
    properties?: Record<string, SchemaProperty>;
    required?: string[];
  };
  const props = Object.entries(schema.properties ?? {});
  return (
    <details className="card wide" data-testid={`control-${c.name}`}>
      <summary>
        <strong>{c.title}</strong> <code>{c.name}</code>
        {c.conditionDim != null && ' · conditional'}
        {c.paired && ' · paired'}
        {' · '}
        {props.length} param{props.length === 1 ? '' : 's'}
      </summary>
      <p className="muted">
        {c.plugin.name} {c.plugin.version}
        {c.conditionDim != null && ` · conditional (${c.conditionDim}-d condition)`}
        {c.paired && ' · paired (compares with the base image)'}
        {!c.available && ' · unavailable'}
      </p>
      {c.description && <p>{c.description}</p>}
      {props.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption>Parameters</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Allowed</th>
                <th scope="col">Default</th>
                <th scope="col">Meaning</th>
              </tr>
            </thead>
            <tbody>
              {props.map(([name, p]) => (
                <tr key={name}>
                  <td>
                    <code>{name}</code>
                    {schema.required?.includes(name) && ' (required)'}
                  </td>
                  <td>{[p.type, p.items?.type && `of ${p.items.type}`].flat().filter(Boolean).join(' ')}</td>
                  <td>{rangeOf(p) || rangeOf(p.items)}</td>
                  <td>{p.default !== undefined ? <code>{JSON.stringify(p.default)}</code> : '–'}</td>
                  <td>{p.description ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="muted">No parameters.</p>
      )}
    </details>
  );
}
