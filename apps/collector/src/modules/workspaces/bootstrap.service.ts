import { sql } from 'kysely';
import type { Db } from './workspaces.repository.js';
import {
  countApiKeys,
  findFirstWorkspace,
  insertApiKeyIfAbsent,
  insertWorkspace,
} from './workspaces.repository.js';
import { displayPrefix, generateApiKey, hashApiKey } from './api-keys.js';

export interface BootstrapResult {
  workspaceId: string;
  /** set only when a key was created by this start and must be shown once */
  createdApiKey: string | undefined;
  createdWorkspace: boolean;
}

/**
 * First start creates the workspace and an admin key and returns the key so it is
 * printed exactly once. `LOUPE_INIT_API_KEY` creates that key idempotently instead
 * (headless bootstrap for scripts, CI and containers) and is never echoed back.
 */
export async function bootstrapWorkspace(
  db: Db,
  initApiKey: string | undefined,
): Promise<BootstrapResult> {
  return db.transaction().execute(async (trx) => {
    // Several collectors may start at once against one PostgreSQL: serialise bootstrap.
    await sql`SELECT pg_advisory_xact_lock(4318)`.execute(trx);
    let workspace = await findFirstWorkspace(trx);
    let createdWorkspace = false;
    if (workspace === undefined) {
      await insertWorkspace(trx, 'default');
      workspace = await findFirstWorkspace(trx);
      createdWorkspace = true;
    }
    const workspaceId = workspace!.id;
    if (initApiKey !== undefined) {
      await insertApiKeyIfAbsent(trx, {
        workspaceId,
        name: 'LOUPE_INIT_API_KEY',
        prefix: displayPrefix(initApiKey),
        hash: hashApiKey(initApiKey),
        role: 'admin',
      });
      return { workspaceId, createdApiKey: undefined, createdWorkspace };
    }
    if ((await countApiKeys(trx, workspaceId)) > 0)
      return { workspaceId, createdApiKey: undefined, createdWorkspace };
    const key = generateApiKey();
    await insertApiKeyIfAbsent(trx, {
      workspaceId,
      name: 'first admin key',
      prefix: displayPrefix(key),
      hash: hashApiKey(key),
      role: 'admin',
    });
    return { workspaceId, createdApiKey: key, createdWorkspace };
  });
}
