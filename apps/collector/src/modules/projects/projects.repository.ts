import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../workspaces/workspaces.repository.js';

export interface ProjectRow {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  extra: Record<string, unknown> | null;
  reference_dataset_id: string | null;
  start_time: string;
  end_time: string | null;
  created_at: string;
}

export async function findProjectByName(db: Db, workspaceId: string, name: string) {
  return db
    .selectFrom('projects')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .executeTakeFirst();
}

export async function findProjectById(db: Db, workspaceId: string, id: string) {
  return db
    .selectFrom('projects')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Creates the project unless it exists; returns its id either way (race-free). */
export async function ensureProject(
  db: Db,
  workspaceId: string,
  name: string,
  id?: string,
): Promise<string> {
  await db
    .insertInto('projects')
    .values({ id: id ?? randomUUID(), workspace_id: workspaceId, name })
    .onConflict((oc) => oc.columns(['workspace_id', 'name']).doNothing())
    .execute();
  const row = await findProjectByName(db, workspaceId, name);
  if (row === undefined) throw new Error(`project ${name} vanished after upsert`);
  return row.id;
}

export interface NewProject {
  id?: string;
  name: string;
  description?: string | null;
  extra?: Record<string, unknown> | null;
  referenceDatasetId?: string | null;
}

/** Returns undefined when the name is taken (the caller answers 409). */
export async function insertProject(db: Db, workspaceId: string, p: NewProject) {
  return db
    .insertInto('projects')
    .values({
      id: p.id ?? randomUUID(),
      workspace_id: workspaceId,
      name: p.name,
      description: p.description ?? null,
      extra: p.extra == null ? null : JSON.stringify(p.extra),
      reference_dataset_id: p.referenceDatasetId ?? null,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export interface ProjectPatch {
  name?: string | null;
  description?: string | null;
  extra?: Record<string, unknown> | null;
  endTime?: string | null;
}

/** `null` means "unchanged" (the LangSmith SDK always sends every key). */
export async function updateProject(db: Db, workspaceId: string, id: string, patch: ProjectPatch) {
  return db
    .updateTable('projects')
    .set({
      name: sql`COALESCE(${patch.name ?? null}, name)`,
      description: sql`COALESCE(${patch.description ?? null}, description)`,
      extra: sql`COALESCE(${patch.extra == null ? null : JSON.stringify(patch.extra)}::jsonb, extra)`,
      end_time: sql`COALESCE(${patch.endTime ?? null}::timestamptz, end_time)`,
    })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteProject(db: Db, workspaceId: string, id: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const res = await trx
      .deleteFrom('projects')
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) return false;
    const runIds = trx.selectFrom('runs').select('id').where('project_id', '=', id);
    await trx.deleteFrom('run_payloads').where('run_id', 'in', runIds).execute();
    await trx.deleteFrom('run_attachments').where('run_id', 'in', runIds).execute();
    await trx.deleteFrom('feedback').where('project_id', '=', id).execute();
    await trx.deleteFrom('runs').where('project_id', '=', id).execute();
    return true;
  });
}

export interface ListProjectsFilter {
  ids?: string[];
  name?: string;
  nameContains?: string;
  referenceDatasetId?: string;
  offset: number;
  limit: number;
}

/** Projects with `run_count` = number of root runs. */
export async function listProjects(db: Db, workspaceId: string, f: ListProjectsFilter) {
  return db
    .selectFrom('projects as p')
    .selectAll('p')
    .select((eb) =>
      eb
        .selectFrom('runs as r')
        .select(eb.fn.countAll<number>().as('n'))
        .whereRef('r.project_id', '=', 'p.id')
        .where('r.parent_run_id', 'is', null)
        .as('run_count'),
    )
    .where('p.workspace_id', '=', workspaceId)
    .$if(f.ids !== undefined && f.ids.length > 0, (q) => q.where('p.id', 'in', f.ids!))
    .$if(f.name !== undefined, (q) => q.where('p.name', '=', f.name!))
    .$if(f.nameContains !== undefined, (q) =>
      q.where(sql<boolean>`position(lower(${f.nameContains!}) in lower(p.name)) > 0`),
    )
    .$if(f.referenceDatasetId !== undefined, (q) =>
      q.where('p.reference_dataset_id', '=', f.referenceDatasetId!),
    )
    .orderBy('p.created_at', 'desc')
    .orderBy('p.id')
    .offset(f.offset)
    .limit(f.limit)
    .execute();
}
