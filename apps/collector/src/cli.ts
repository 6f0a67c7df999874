#!/usr/bin/env node
/**
 * `loupe <command>`: `start` (default) runs the server; `migrate` applies pending
 * migrations and exits (for deployments that migrate before rolling out).
 */
import { ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { serve } from './server.js';

const USAGE = `usage: loupe [start|migrate]

  start     run the collector (default)
  migrate   apply pending database migrations and exit

Configuration is read from the environment: see README.md.`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'start';
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  if (command === 'migrate') {
    const handle = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    try {
      const result = await migrateToLatest(handle.db);
      const applied =
        result.results?.filter((r) => r.status === 'Success').map((r) => r.migrationName) ?? [];
      console.log(
        applied.length === 0 ? 'Database is up to date.' : `Applied: ${applied.join(', ')}`,
      );
    } finally {
      await handle.close();
    }
    return 0;
  }
  if (command === 'start') {
    await serve(config);
    return -1; // keep running
  }
  console.error(`unknown command "${command}"\n\n${USAGE}`);
  return 64;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error(
      error instanceof ConfigError
        ? error.message
        : `loupe: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(error instanceof ConfigError ? 78 : 1);
  },
);
