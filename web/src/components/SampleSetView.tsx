/** One sample set as a grid of its images, with what produced it. */
import type { SampleSetFieldsFragment } from '../gql/graphql';

export function SampleSetView({
  set,
  caption,
  testId,
}: {
  set: SampleSetFieldsFragment;
  caption?: string;
  testId?: string;
}) {
  const title =
    caption ??
    (set.kind === 'PREVIEW'
      ? `Preview at step ${set.step ?? '?'}`
      : `Sample: ${set.count} images, seed ${set.seed ?? 'random'}, truncation ${set.truncation}`);
  return (
    <figure className="sample-set" data-testid={testId} data-sample-set-id={set.id}>
      <figcaption>{title}</figcaption>
      <div className="images">
        {set.images.map((img) => (
          <img
            key={img.index}
            src={img.url}
            width={img.width}
            height={img.height}
            alt={`${set.generator.name} image ${img.index + 1} of ${set.count}`}
            loading="lazy"
          />
        ))}
      </div>
    </figure>
  );
}
