// The contract's JSON and DateTime scalars, from graphql-scalars (well kept, spec-compliant).
export { GraphQLJSON as JSONScalar, GraphQLDateTime as DateTimeScalar } from 'graphql-scalars';
