/**
 * The single DataSource the typeorm CLI needs (migration:generate / :run).
 * Usage: DATABASE_URL=postgres://... npx typeorm -d dist/src/store/typeorm-cli.js migration:generate migrations/Name
 */
import { createDataSource } from './data-source';

export default createDataSource({
  url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
});
