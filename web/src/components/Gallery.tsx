import { useState } from 'react';
import { useClient } from 'urql';
import type { PromptPageQuery, SampleSetFieldsFragment } from '../gql/graphql';
import { PromptQuery } from '../operations';
import { SampleSetView } from './SampleSetView';

type PromptData = NonNullable<PromptPageQuery['prompt']>;

/** A prompt's stored sample sets, newest first, with older pages on demand. */
export function Gallery({
  prompt,
  sets,
  onMore,
}: {
  prompt: PromptData;
  sets: SampleSetFieldsFragment[];
  onMore: (s: SampleSetFieldsFragment[]) => void;
}) {
  const client = useClient();
  const [page, setPage] = useState(prompt.sampleSets.pageInfo);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  // Older sets come page by page through the connection's cursor.
  const loadOlder = async () => {
    setLoading(true);
    const res = await client
      .query(PromptQuery, { id: prompt.id, setsAfter: page.endCursor }, { requestPolicy: 'network-only' })
      .toPromise();
    setLoading(false);
    const conn = res.data?.prompt?.sampleSets;
    if (res.error || !conn) {
      setProblem(res.error?.message ?? 'the prompt is gone');
      return;
    }
    setPage(conn.pageInfo);
    onMore(conn.nodes);
  };
  return (
    <section aria-labelledby="gallery-h">
      <h2 id="gallery-h">
        Gallery <span className="muted">({prompt.sampleSets.totalCount} stored sets, newest first)</span>
      </h2>
      {sets.length === 0 && <p className="muted">No previews or samples yet.</p>}
      <div className="gallery">
        {sets.map((s) => (
          <SampleSetView key={s.id} set={s} />
        ))}
      </div>
      {page.hasNextPage && (
        <button type="button" onClick={loadOlder} disabled={loading}>
          {loading ? 'Loading…' : 'Load older sets'}
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
