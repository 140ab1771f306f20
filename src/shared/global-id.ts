/**
 * Opaque global IDs (Relay convention): base64url("Type:uuid"). They let
 * `node(id)` find any object, and keep clients from depending on table keys.
 */
export type NodeType = 'Generator' | 'Control' | 'Plugin' | 'Prompt' | 'SampleSet';
const NODE_TYPES: NodeType[] = ['Generator', 'Control', 'Plugin', 'Prompt', 'SampleSet'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function toGlobalId(type: NodeType, id: string): string {
  return Buffer.from(`${type}:${id}`, 'utf8').toString('base64url');
}

export function fromGlobalId(globalId: string): { type: NodeType; id: string } | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(globalId)) return null;
  const decoded = Buffer.from(globalId, 'base64url').toString('utf8');
  const sep = decoded.indexOf(':');
  if (sep < 0) return null;
  const type = decoded.slice(0, sep) as NodeType;
  const id = decoded.slice(sep + 1);
  if (!NODE_TYPES.includes(type) || !UUID.test(id)) return null;
  return { type, id };
}

/** The uuid behind a global id of the expected type, or null. */
export function idOf(type: NodeType, globalId: string): string | null {
  const parsed = fromGlobalId(globalId);
  return parsed && parsed.type === type ? parsed.id : null;
}
