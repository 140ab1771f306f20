/** Finds generators and controls by global id or by name, as the API accepts both. */
import type { ControlRow, GeneratorRow } from '../store/entities';
import type { Store } from '../store/store';
import { fromGlobalId } from '../shared/global-id';

export async function findGenerator(store: Store, ref: string): Promise<GeneratorRow | null> {
  const parsed = fromGlobalId(ref);
  if (parsed?.type === 'Generator') return store.generatorById(parsed.id);
  if (parsed?.type === 'Prompt') return store.generatorForPrompt(parsed.id);
  return store.generatorByName(ref);
}

export async function findControl(store: Store, ref: string): Promise<ControlRow | null> {
  const parsed = fromGlobalId(ref);
  if (parsed?.type === 'Control') return store.controlById(parsed.id);
  return store.controlByName(ref);
}
