/**
 * Global ids live in `shared/global-id` (below the services and the runtime that
 * also read them); re-exported here so the schema keeps its one import path.
 */
export { fromGlobalId, idOf, toGlobalId, type NodeType } from '../shared/global-id';
