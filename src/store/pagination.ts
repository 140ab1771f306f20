/** Opaque keyset cursors over (created_at, id), newest first, and the page query they drive. */
import type { SelectQueryBuilder } from 'typeorm';

export interface CursorKey {
  createdAt: Date;
  id: string;
}

export interface Page<T> {
  rows: T[];
  cursors: string[];
  hasNextPage: boolean;
  totalCount: number;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.createdAt.toISOString()}|${key.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): CursorKey | null {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const [iso, id] = text.split('|');
  const createdAt = new Date(iso ?? '');
  if (!id || Number.isNaN(createdAt.getTime())) return null;
  return { createdAt, id };
}

/**
 * The `first` rows after the cursor `after`, newest first, from a query of
 * `alias`'s table (with its filters already applied). One extra row is read
 * to know whether another page follows.
 */
export async function keysetPage<T extends { createdAt: Date; id: string }>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  first: number,
  after: string | null,
  totalCount: number,
): Promise<Page<T>> {
  const key: CursorKey | null = after ? decodeCursor(after) : null;
  if (key) {
    qb.andWhere(`(${alias}.created_at, ${alias}.id) < (:createdAt, :id)`, {
      createdAt: key.createdAt,
      id: key.id,
    });
  }
  const rows = await qb
    .orderBy(`${alias}.created_at`, 'DESC')
    .addOrderBy(`${alias}.id`, 'DESC')
    .take(first + 1)
    .getMany();
  const hasNextPage = rows.length > first;
  const page = rows.slice(0, first);
  return { rows: page, cursors: page.map((r) => encodeCursor(r)), hasNextPage, totalCount };
}
