/**
 * Bounds on the work one GraphQL request can cause, checked before validation.
 *
 * graphql-js's validation (the OverlappingFieldsCanBeMerged rule) compares the
 * fields of a selection set with the same response name pairwise: n repeated
 * fields cost ~n²/2 comparisons. `{ generators { id id id … } }` of 48 kB held
 * the event loop for 69 s. Validation rules run in one pass over the document,
 * so a limit written as a validation rule (GraphQL Armor's included) comes too
 * late; these checks run first:
 *  - tokens: graphql-js stops parsing past `maxTokens` (the parser's own limit);
 *  - field selections in the document (bounds the pairwise comparisons);
 *  - expensive mutation fields per operation (aliased `createPrompt` × 50);
 *  - input values: no NUL characters (PostgreSQL text cannot hold them), no
 *    nesting deeper than MAX_VALUE_DEPTH, in literals and in variables alike,
 *    and no infinite numbers in variables (JSON's 1e999).
 * Aliases, directives (GraphQL Armor), depth and complexity (./guard-rails.ts)
 * are validation rules, cheap once the document is this small.
 *
 * The same function serves HTTP (an Apollo plugin) and graphql-ws (onSubscribe).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestHandler } from 'express';
import { GraphQLError, Kind, parse, type DocumentNode, type SelectionSetNode, type ValueNode } from 'graphql';
import type { SecurityConfig } from '../shared/config';
import { ErrorCode } from '../shared/error-code';

/** Mutations that queue training, render images or run npm: limited per request and per client. */
const EXPENSIVE_MUTATIONS = new Set(['createPrompt', 'sample', 'installPlugin', 'uninstallPlugin']);

/** Deepest nesting of an input value (params are small JSON objects; thousands of levels only cost stack). */
const MAX_VALUE_DEPTH = 32;

export type GuardLimits = Pick<
  SecurityConfig,
  'maxQueryTokens' | 'maxQueryFields' | 'maxExpensivePerRequest'
>;

function refusal(message: string, code: ErrorCode, extra: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra, http: { status: 400 } } });
}

/** A parse that stops at the token limit; null document (and no error) for a plain syntax error. */
function parseBounded(
  source: string,
  maxTokens: number,
): { document: DocumentNode | null; error: GraphQLError | null } {
  try {
    return { document: parse(source, { maxTokens }), error: null };
  } catch (err) {
    const message = (err as Error).message;
    if (/tokens\. Parsing aborted/.test(message)) {
      return {
        document: null,
        error: refusal(`Query is too large: more than ${maxTokens} tokens`, ErrorCode.QUERY_TOO_LARGE, {
          maxTokens,
        }),
      };
    }
    return { document: null, error: null };
  }
}

function countFields(document: DocumentNode): number {
  let n = 0;
  const visit = (set: SelectionSetNode | undefined) => {
    if (!set) return;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) n += 1;
      if (sel.kind !== Kind.FRAGMENT_SPREAD) visit(sel.selectionSet);
    }
  };
  for (const def of document.definitions) {
    if (def.kind === Kind.OPERATION_DEFINITION || def.kind === Kind.FRAGMENT_DEFINITION)
      visit(def.selectionSet);
  }
  return n;
}

/** Expensive root fields of the largest mutation operation, fragments on the root expanded. */
function expensiveFieldsPerOperation(document: DocumentNode): number {
  const fragments = new Map<string, SelectionSetNode>();
  for (const def of document.definitions)
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def.selectionSet);
  const count = (set: SelectionSetNode, seen: Set<string>): number => {
    let n = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) n += EXPENSIVE_MUTATIONS.has(sel.name.value) ? 1 : 0;
      else if (sel.kind === Kind.INLINE_FRAGMENT) n += count(sel.selectionSet, seen);
      else if (!seen.has(sel.name.value) && fragments.has(sel.name.value)) {
        // Each spread of a fragment is counted: `...F ...F` runs F's fields once (merged), but
        // different fragments with the same fields are distinct spreads and counted twice (safe side).
        n += count(fragments.get(sel.name.value)!, new Set([...seen, sel.name.value]));
      }
    }
    return n;
  };
  let max = 0;
  for (const def of document.definitions) {
    if (def.kind === Kind.OPERATION_DEFINITION && def.operation === 'mutation')
      max = Math.max(max, count(def.selectionSet, new Set()));
  }
  return max;
}

/** The first problem of a literal value: a NUL in a string or nesting past MAX_VALUE_DEPTH. */
function literalProblem(node: ValueNode, depth: number): string | null {
  if (depth > MAX_VALUE_DEPTH) return `an input value is nested deeper than ${MAX_VALUE_DEPTH} levels`;
  switch (node.kind) {
    case Kind.STRING:
      return node.value.includes('\0') ? 'strings must not contain NUL (\\u0000) characters' : null;
    case Kind.FLOAT:
    case Kind.INT:
      return Number.isFinite(Number(node.value))
        ? null
        : `numbers must be finite (got ${node.value.slice(0, 40)})`;
    case Kind.LIST:
      for (const v of node.values) {
        const p = literalProblem(v, depth + 1);
        if (p) return p;
      }
      return null;
    case Kind.OBJECT:
      for (const f of node.fields) {
        const p = literalProblem(f.value, depth + 1);
        if (p) return p;
      }
      return null;
    default:
      return null;
  }
}

/** The same for a JSON variable value (and its object keys). */
function valueProblem(value: unknown, depth = 0): string | null {
  if (depth > MAX_VALUE_DEPTH) return `an input value is nested deeper than ${MAX_VALUE_DEPTH} levels`;
  if (typeof value === 'string')
    return value.includes('\0') ? 'strings must not contain NUL (\\u0000) characters' : null;
  // JSON has no Infinity, but 1e999 parses to it: refused here, or a JSON param would be stored as null.
  if (typeof value === 'number')
    return Number.isFinite(value) ? null : `numbers must be finite (got ${value})`;
  if (Array.isArray(value)) {
    for (const v of value) {
      const p = valueProblem(v, depth + 1);
      if (p) return p;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('\0')) return 'strings must not contain NUL (\\u0000) characters';
      const p = valueProblem(v, depth + 1);
      if (p) return p;
    }
  }
  return null;
}

function literalsProblem(document: DocumentNode): string | null {
  let problem: string | null = null;
  const visitSet = (set: SelectionSetNode | undefined) => {
    if (!set || problem) return;
    for (const sel of set.selections) {
      if (problem) return;
      for (const d of sel.directives ?? [])
        for (const a of d.arguments ?? []) problem ??= literalProblem(a.value, 0);
      if (sel.kind === Kind.FIELD)
        for (const a of sel.arguments ?? []) problem ??= literalProblem(a.value, 0);
      if (sel.kind !== Kind.FRAGMENT_SPREAD) visitSet(sel.selectionSet);
    }
  };
  for (const def of document.definitions) {
    if (def.kind === Kind.OPERATION_DEFINITION) {
      for (const v of def.variableDefinitions ?? [])
        if (v.defaultValue) problem ??= literalProblem(v.defaultValue, 0);
    }
    if (def.kind === Kind.OPERATION_DEFINITION || def.kind === Kind.FRAGMENT_DEFINITION)
      visitSet(def.selectionSet);
  }
  return problem;
}

/**
 * Checks a request before validation. Returns the parsed document when the source
 * parses, or the refusal; `document: null, error: null` means a plain syntax error
 * that the caller's own parse reports.
 */
export function preflight(
  source: string,
  variables: unknown,
  limits: GuardLimits,
): { document: DocumentNode | null; error: GraphQLError | null } {
  if (typeof source !== 'string') return { document: null, error: null };
  const parsed = parseBounded(source, limits.maxQueryTokens);
  if (!parsed.document) return parsed;
  const document = parsed.document;
  const fields = countFields(document);
  if (fields > limits.maxQueryFields) {
    return {
      document,
      error: refusal(
        `Query has too many fields: ${fields} exceeds the limit of ${limits.maxQueryFields}`,
        ErrorCode.TOO_MANY_FIELDS,
        { maxFields: limits.maxQueryFields },
      ),
    };
  }
  const expensive = expensiveFieldsPerOperation(document);
  if (expensive > limits.maxExpensivePerRequest) {
    return {
      document,
      error: refusal(
        `An operation may run at most ${limits.maxExpensivePerRequest} of ${[...EXPENSIVE_MUTATIONS].join(', ')} (got ${expensive}): send them as separate requests`,
        ErrorCode.TOO_MANY_MUTATIONS,
        { max: limits.maxExpensivePerRequest },
      ),
    };
  }
  const problem = literalsProblem(document) ?? valueProblem(variables ?? null);
  if (problem) return { document, error: refusal(`Invalid input: ${problem}`, ErrorCode.BAD_USER_INPUT) };
  return { document, error: null };
}

/**
 * Express middleware in front of Apollo: runs the preflight on the request's query
 * (POST body or GET parameters) and answers a refusal itself, with HTTP 400. It sits
 * before Apollo because Apollo's plugin hooks before validation cannot answer a coded
 * error (a throw there becomes a 500), and validation itself is what must be avoided.
 */
export function requestGuardMiddleware(limits: GuardLimits): RequestHandler {
  return (req, res, next) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (Array.isArray(req.body)) {
      res.status(400).json({
        errors: [
          {
            message: 'Batched requests are not accepted: send one operation per request',
            extensions: { code: ErrorCode.BAD_REQUEST },
          },
        ],
      });
      return;
    }
    let query = body.query;
    let variables: unknown = body.variables;
    if (req.method === 'GET') {
      query = req.query.query;
      try {
        variables = typeof req.query.variables === 'string' ? JSON.parse(req.query.variables) : undefined;
      } catch {
        variables = undefined; // Apollo reports the malformed parameter
      }
    }
    if (typeof query !== 'string') return next();
    const { error } = preflight(query, variables, limits);
    if (!error) return next();
    const { http: _http, ...extensions } = error.extensions as Record<string, unknown>;
    res.status(400).json({ errors: [{ message: error.message, extensions }] });
  };
}

/** Apollo plugin: refuses subscriptions, which this server serves over graphql-ws only. */
export function subscriptionOverHttpPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation === 'subscription') {
            throw new GraphQLError(
              'Subscriptions are served over WebSocket (graphql-ws protocol) at /graphql, not over HTTP',
              {
                extensions: { code: ErrorCode.BAD_REQUEST, http: { status: 400 } },
              },
            );
          }
        },
      };
    },
  };
}
