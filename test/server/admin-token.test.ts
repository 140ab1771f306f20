import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAdminAuthorization, loadAdminToken } from '../../src/server/admin-token';
import { tempDir } from '../helpers/database';

describe('admin token', () => {
  it('is generated once with owner-only permissions, then read back', () => {
    const dir = path.join(tempDir(), 'data');
    const first = loadAdminToken(dir);
    expect(first.generated).toBe(true);
    expect(first.token.length).toBeGreaterThanOrEqual(32);
    const mode = fs.statSync(first.file!).mode & 0o777;
    expect(mode).toBe(0o600);
    const second = loadAdminToken(dir);
    expect(second).toEqual({ token: first.token, file: first.file, generated: false });
  });

  it('prefers the environment and writes nothing', () => {
    const dir = tempDir();
    expect(loadAdminToken(dir, 'from-the-environment-123')).toEqual({
      token: 'from-the-environment-123',
      generated: false,
    });
    expect(fs.existsSync(path.join(dir, 'admin-token'))).toBe(false);
  });

  it('accepts only the exact bearer token', () => {
    const token = 'secret-token-0123456789';
    expect(isAdminAuthorization(`Bearer ${token}`, token)).toBe(true);
    expect(isAdminAuthorization(`bearer ${token}`, token)).toBe(true);
    expect(isAdminAuthorization(token, token)).toBe(false);
    expect(isAdminAuthorization(`Bearer ${token}x`, token)).toBe(false);
    expect(isAdminAuthorization(undefined, token)).toBe(false);
    expect(isAdminAuthorization('Basic abc', token)).toBe(false);
  });
});
