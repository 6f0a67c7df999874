import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { lockDataDir, startPgliteHost } from '../../src/db/pglite-host.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-lock-'));

describe('embedded database directory lock', () => {
  it('refuses a second opener while the first holds the directory, and releases on close', async () => {
    const dir = tmp();
    const host = await startPgliteHost(dir);
    await expect(startPgliteHost(dir)).rejects.toThrow(/already open in this process/);
    await host.close();
    const again = await startPgliteHost(dir);
    await again.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the live process that holds the directory', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'loupe.lock'), String(process.ppid));
    expect(() => lockDataDir(dir)).toThrow(
      new RegExp(`in use by process ${process.ppid}.*LOUPE_DATA_DIR`),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes over a lock left by a process that no longer exists', () => {
    const dir = tmp();
    const dead = spawnSync(process.execPath, [
      '-e',
      'process.stdout.write(String(process.pid))',
    ]).stdout.toString();
    fs.writeFileSync(path.join(dir, 'loupe.lock'), dead);
    const release = lockDataDir(dir);
    expect(fs.readFileSync(path.join(dir, 'loupe.lock'), 'utf8')).toBe(String(process.pid));
    release();
    expect(fs.existsSync(path.join(dir, 'loupe.lock'))).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
