import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, testBackends } from '../src/testing.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const run = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, ['--conditions=loupe-source', '--import', 'tsx', cli, ...args], {
    env: { ...process.env, LOUPE_LOG_LEVEL: 'silent', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });

describe.each(testBackends())('loupe CLI on %s', (kind) => {
  it('migrate applies the migrations once, then reports up to date', async () => {
    const db = await createTestDatabase(kind);
    const env: Record<string, string> =
      db.url === undefined ? { LOUPE_DATA_DIR: db.dataDir } : { DATABASE_URL: db.url };
    try {
      const first = run(['migrate'], env);
      expect(first.stderr).toBe('');
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(/Applied: 0001-init/);
      const second = run(['migrate'], env);
      expect(second.status).toBe(0);
      expect(second.stdout).toMatch(/up to date/);
    } finally {
      await db.drop();
    }
  });
});

describe('loupe CLI usage', () => {
  it('explains itself and rejects unknown commands', () => {
    expect(run(['--help'], {}).stdout).toMatch(/usage: loupe \[start\|migrate\]/);
    const bad = run(['frobnicate'], {});
    expect(bad.status).toBe(64);
    expect(bad.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('fails fast on bad configuration, naming the variable', () => {
    const bad = run(['migrate'], { DATABASE_URL: 'mysql://nope' });
    expect(bad.status).toBe(78);
    expect(bad.stderr).toMatch(/DATABASE_URL/);
  });
});
