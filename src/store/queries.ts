/**
 * What every group of store queries stands on: the database pool. The groups
 * (catalog, prompts, samples) are separate classes so each file holds one
 * kind of row; `Store` (store.ts) joins them into the one object callers use.
 */
import type { DataSource, EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';

/** A way to run one SQL statement inside the store's current transaction (what pg-boss's `db.executeSql` wants). */
export type ExecuteSql = (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>;

export abstract class Queries {
  constructor(readonly dataSource: DataSource) {}

  protected get m(): EntityManager {
    return this.dataSource.manager;
  }

  /** INSERT, or on a clash of the unique `key` columns, UPDATE the `update` columns (column names, not properties). */
  protected async upsert<T extends ObjectLiteral>(
    entity: EntityTarget<T>,
    values: Partial<T>,
    update: string[],
    key: string[],
  ): Promise<void> {
    await this.m.createQueryBuilder().insert().into(entity).values(values).orUpdate(update, key).execute();
  }
}
