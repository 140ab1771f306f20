/**
 * Limits on what one GraphQL operation may ask for: selection depth (a
 * validation rule, so it also applies to subscriptions over ws) and
 * estimated complexity (graphql-query-complexity, which type-graphql ships).
 */
import {
  GraphQLError,
  Kind,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { getNullableType, isListType } from 'graphql';
import { ErrorCode } from '../shared/error-code';

export function depthLimitRule(maxDepth: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const depthOf = (set: SelectionSetNode | undefined, depth: number, seen: Set<string>): number => {
      if (!set) return depth;
      let max = depth;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value.startsWith('__')) continue; // introspection is not counted
          max = Math.max(max, depthOf(sel.selectionSet, depth + 1, seen));
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthOf(sel.selectionSet, depth, seen));
        } else if (!seen.has(sel.name.value)) {
          const frag = fragments.get(sel.name.value);
          if (frag)
            max = Math.max(max, depthOf(frag.selectionSet, depth, new Set([...seen, sel.name.value])));
        }
      }
      return max;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, 0, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`Query is too deep: depth ${depth} exceeds the limit of ${maxDepth}`, {
              nodes: [node],
              extensions: { code: ErrorCode.QUERY_TOO_DEEP, depth, maxDepth },
            }),
          );
        }
      },
    };
  };
}

/** Lists whose length the query does not bound (no `first`) are assumed this long. */
const UNBOUNDED_LIST_GUESS = 20;

/**
 * Each field costs 1 plus its children times how many of them may come back:
 * `first` where the field takes one, a guess for other lists. A connection's
 * own `nodes`/`edges` lists are already counted by the connection's `first`.
 */
const listAwareEstimator: ComplexityEstimator = ({ field, args, childComplexity, type }) => {
  // Introspection answers from the schema in memory, bounded by its size: counted without
  // list guesses, so the standard introspection query passes while introspection is on.
  if (type.name.startsWith('__') || field.name.startsWith('__')) return 1 + childComplexity;
  let multiplier = 1;
  if (typeof args.first === 'number') multiplier = Math.max(1, args.first);
  else if (isListType(getNullableType(field.type)) && !type.name.endsWith('Connection'))
    multiplier = UNBOUNDED_LIST_GUESS;
  return 1 + childComplexity * multiplier;
};

/** Throws a GraphQLError when the operation's estimated complexity is over the limit. */
export function assertComplexity(
  schema: GraphQLSchema,
  query: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
  maxComplexity: number,
): void {
  const complexity = getComplexity({
    schema,
    query,
    variables: variables ?? {},
    operationName: operationName ?? undefined,
    estimators: [listAwareEstimator],
  });
  if (complexity > maxComplexity) {
    throw new GraphQLError(
      `Query is too complex: complexity ${complexity} exceeds the limit of ${maxComplexity}`,
      {
        extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, complexity, maxComplexity, http: { status: 400 } },
      },
    );
  }
}
