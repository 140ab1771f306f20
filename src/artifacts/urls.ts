/**
 * Where each artifact lives. The GraphQL schema hands out these URLs and the
 * HTTP server mounts these routes; both read this one table, so a URL the
 * schema builds is always one the server answers.
 *
 * Every artifact is addressed by the uuid of the row it renders (an image, a
 * sample set, a prompt). An id that is not a uuid cannot name a row, so it is
 * refused before any query (as a 404, like any other missing artifact).
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ArtifactAddress {
  /** The Express route pattern. */
  route: string;
  /** The absolute URL of the artifact of row `rowId`. */
  url(baseUrl: string, rowId: string): string;
  /** The row id a matched route names, or null when it cannot name a row. */
  rowId(params: Record<string, string | undefined>): string | null;
}

const uuidOrNull = (id: string | undefined): string | null => (id !== undefined && UUID.test(id) ? id : null);

/** One stored image, as the PNG bytes it was stored as. */
export const IMAGE: ArtifactAddress = {
  // `:file` rather than `:id.png`: the extension is checked here, so `/artifacts/images/x`
  // is this route's 404 and not the Studio's.
  route: '/artifacts/images/:file',
  url: (baseUrl, imageId) => `${baseUrl}/artifacts/images/${imageId}.png`,
  rowId: ({ file }) => uuidOrNull(/^(.+)\.png$/.exec(file ?? '')?.[1]),
};

/** All images of a sample set as one grid. */
export const SAMPLE_SET_GRID: ArtifactAddress = {
  route: '/artifacts/sample-sets/:id/grid.png',
  url: (baseUrl, sampleSetId) => `${baseUrl}/artifacts/sample-sets/${sampleSetId}/grid.png`,
  rowId: ({ id }) => uuidOrNull(id),
};

/** A prompt's training curves so far. */
export const PROMPT_CURVE: ArtifactAddress = {
  route: '/artifacts/prompts/:id/curve.png',
  url: (baseUrl, promptId) => `${baseUrl}/artifacts/prompts/${promptId}/curve.png`,
  rowId: ({ id }) => uuidOrNull(id),
};
