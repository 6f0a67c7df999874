import { Migrator, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import { m0001Init } from './migrations/0001-init.js';

/** Migrations are code, listed here in order; no filesystem scanning (works from src and dist). */
const MIGRATIONS: Record<string, Migration> = {
  '0001-init': m0001Init,
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the migrator is schema-agnostic
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(MIGRATIONS) },
    migrationTableName: 'loupe_migrations',
    migrationLockTableName: 'loupe_migrations_lock',
  });
  // Migrator never throws: it reports failures in the result, so check it.
  const result = await migrator.migrateToLatest();
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(
      `Database migration ${failed} failed: ${result.error instanceof Error ? result.error.message : JSON.stringify(result.error)}`,
      { cause: result.error },
    );
  }
  return result;
}
