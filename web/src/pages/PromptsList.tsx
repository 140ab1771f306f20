/** All prompts, newest first: filter by status, page through the connection; active rows update live. */
import { useState } from 'react';
import { useQuery, useSubscription } from 'urql';
import { Link } from 'wouter';
import { PromptsQuery, StatusLiveSubscription } from '../operations';
import type { PromptStatus, PromptsQuery as PromptsData } from '../gql/graphql';
import { StatusBadge } from '../components/StatusBadge';
import { TERMINAL, formatTime } from '../format';

const PAGE_SIZE = 10;
const STATUSES: PromptStatus[] = ['QUEUED', 'TRAINING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];

export function PromptsListPage() {
  const [status, setStatus] = useState<PromptStatus | ''>('');
  // Cursors of the pages before the current one, for "Previous".
  const [cursors, setCursors] = useState<Array<string | null>>([]);
  const [after, setAfter] = useState<string | null>(null);
  const [{ data, error, fetching }] = useQuery({
    query: PromptsQuery,
    variables: { status: status || null, after, first: PAGE_SIZE },
  });
  const conn = data?.prompts;
  const page = cursors.length + 1;
  return (
    <>
      <h1>Prompts</h1>
      <div className="toolbar">
        <label htmlFor="status-filter">Status</label>
        <select
          id="status-filter"
          value={status}
          onChange={(e) => {
            setStatus(e.target.value as PromptStatus | '');
            setCursors([]);
            setAfter(null);
          }}
        >
          <option value="">All</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <Link href="/compose" className="button-link">
          New prompt
        </Link>
      </div>
      {error && <p role="alert">Could not load prompts: {error.message}</p>}
      {conn && (
        <>
          <p className="muted" data-testid="prompts-count">
            {conn.totalCount} prompt{conn.totalCount === 1 ? '' : 's'} · page {page} of{' '}
            {Math.max(1, Math.ceil(conn.totalCount / PAGE_SIZE))}
          </p>
          <div className="table-wrap">
            <table data-testid="prompts-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col">Generator</th>
                  <th scope="col">Controls</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {conn.nodes.map((p) => (
                  <PromptRow key={p.id} prompt={p} />
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button
              type="button"
              disabled={cursors.length === 0 || fetching}
              onClick={() => {
                setAfter(cursors.at(-1) ?? null);
                setCursors(cursors.slice(0, -1));
              }}
            >
              Previous page
            </button>
            <button
              type="button"
              disabled={!conn.pageInfo.hasNextPage || fetching}
              onClick={() => {
                setCursors([...cursors, after]);
                setAfter(conn.pageInfo.endCursor ?? null);
              }}
            >
              Next page
            </button>
          </nav>
        </>
      )}
    </>
  );
}

type Row = PromptsData['prompts']['nodes'][number];

function PromptRow({ prompt: p }: { prompt: Row }) {
  // Only prompts that can still change hold a subscription; it ends with the prompt.
  const [live] = useSubscription({
    query: StatusLiveSubscription,
    variables: { id: p.id },
    pause: TERMINAL.has(p.status),
  });
  const event = live.data?.trainingProgress;
  const status = event?.status ?? p.status;
  const step = event?.step ?? p.progress?.step;
  const total = event?.totalSteps ?? p.progress?.totalSteps;
  return (
    <tr data-testid={`prompt-row-${p.id}`}>
      <td>
        <Link href={`/prompts/${p.id}`}>{p.name ?? p.id.slice(0, 12)}</Link>
      </td>
      <td>
        <StatusBadge status={status} />
        {status === 'TRAINING' && step != null && total ? ` ${step}/${total}` : ''}
      </td>
      <td>
        <code>{p.generator.name}</code>
      </td>
      <td>{p.controls.map((c) => `${c.control.name} (λ ${c.weight})`).join(' + ')}</td>
      <td>{formatTime(p.createdAt)}</td>
    </tr>
  );
}
