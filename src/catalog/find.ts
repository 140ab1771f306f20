/**
 * Finds generators and controls by global id or by name, as the API accepts
 * both. A generator comes back with `available` as a client should read it:
 * a trained prompt used as a generator samples through every generator down
 * its chain, so it is available only while all of them are (an uninstalled
 * base plugin leaves its row `available` but makes its prompts unusable).
 * Store.listOfferedGenerators applies the same rule to a whole list.
 */
import type { ControlRow, GeneratorRow } from '../store/entities';
import type { Store } from '../store/store';
import { fromGlobalId } from '../shared/global-id';

/** Far deeper than any real stack of prompts; stops a cycle in corrupt rows (the list's rule too). */
const MAX_CHAIN_DEPTH = 64;

export async function findGenerator(store: Store, ref: string): Promise<GeneratorRow | null> {
  const parsed = fromGlobalId(ref);
  if (parsed?.type === 'Generator') return generatorById(store, parsed.id);
  if (parsed?.type === 'Prompt') return generatorOfPrompt(store, parsed.id);
  return withChainAvailability(store, await store.generatorByName(ref));
}

export async function generatorById(store: Store, id: string): Promise<GeneratorRow | null> {
  return withChainAvailability(store, await store.generatorById(id));
}

/** The generator a trained prompt became (null before it succeeded). */
export async function generatorOfPrompt(store: Store, promptId: string): Promise<GeneratorRow | null> {
  return withChainAvailability(store, await store.generatorForPrompt(promptId));
}

/** The row with `available` false when any generator down its chain is unavailable or gone. */
async function withChainAvailability(store: Store, row: GeneratorRow | null): Promise<GeneratorRow | null> {
  // The row is this caller's own copy, read just now: setting the derived value on it changes no stored row.
  if (row?.available && row.basePromptId) row.available = await chainAvailable(store, row.basePromptId);
  return row;
}

/** Whether the generator the prompt trained on, and each one below it, is available. */
async function chainAvailable(store: Store, promptId: string): Promise<boolean> {
  let next: string | null = promptId;
  for (let depth = 0; next; depth++) {
    if (depth >= MAX_CHAIN_DEPTH) return false;
    const prompt = await store.promptById(next);
    const below = prompt && (await store.generatorById(prompt.generatorId));
    if (!below?.available) return false;
    next = below.basePromptId;
  }
  return true;
}

export async function findControl(store: Store, ref: string): Promise<ControlRow | null> {
  const parsed = fromGlobalId(ref);
  if (parsed?.type === 'Control') return store.controlById(parsed.id);
  return store.controlByName(ref);
}
