import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export type Db = Kysely<Database>;

export interface ApiKeyIdentity {
  keyId: string;
  workspaceId: string;
  role: 'admin' | 'member' | 'reviewer';
}

export async function findFirstWorkspace(db: Db) {
  return db
    .selectFrom('workspaces')
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
}

export async function insertWorkspace(db: Db, name: string) {
  const id = randomUUID();
  await db.insertInto('workspaces').values({ id, name }).execute();
  return id;
}

export async function insertApiKeyIfAbsent(
  db: Db,
  key: {
    workspaceId: string;
    name: string;
    prefix: string;
    hash: string;
    role: ApiKeyIdentity['role'];
  },
): Promise<boolean> {
  const res = await db
    .insertInto('api_keys')
    .values({
      id: randomUUID(),
      workspace_id: key.workspaceId,
      name: key.name,
      prefix: key.prefix,
      key_hash: key.hash,
      role: key.role,
    })
    .onConflict((oc) => oc.column('key_hash').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function findApiKeyByHash(db: Db, hash: string): Promise<ApiKeyIdentity | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'workspace_id', 'role'])
    .where('key_hash', '=', hash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : { keyId: row.id, workspaceId: row.workspace_id, role: row.role };
}

export async function countApiKeys(db: Db, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
