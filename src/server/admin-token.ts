/**
 * The admin token: from PROMPTGEN_ADMIN_TOKEN, or generated at first start
 * into `<dataDir>/admin-token` readable by the owner only.
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface AdminToken {
  token: string;
  /** Where it was read from or written to; undefined when it came from the environment. */
  file?: string;
  generated: boolean;
}

export function loadAdminToken(dataDir: string, fromEnv?: string): AdminToken {
  if (fromEnv) return { token: fromEnv, generated: false };
  const file = path.join(dataDir, 'admin-token');
  if (fs.existsSync(file)) {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length >= 16) return { token, file, generated: false };
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, token + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return { token, file, generated: true };
}

/** Constant-time check of an `Authorization: Bearer <token>` value. */
export function isAdminAuthorization(header: unknown, token: string): boolean {
  if (typeof header !== 'string') return false;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return false;
  // Hash both sides so the comparison takes the same time whatever the length.
  const a = createHash('sha256').update(match[1]!).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}
