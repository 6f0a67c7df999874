import type { Db } from '../workspaces/workspaces.repository.js';

export interface FeedbackListFilter {
  runIds?: string[];
  keys?: string[];
  sourceTypes?: string[];
  projectIds?: string[];
  offset: number;
  limit: number;
}

export async function listFeedback(db: Db, workspaceId: string, f: FeedbackListFilter) {
  return db
    .selectFrom('feedback')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .$if((f.runIds?.length ?? 0) > 0, (q) => q.where('run_id', 'in', f.runIds!))
    .$if((f.keys?.length ?? 0) > 0, (q) => q.where('key', 'in', f.keys!))
    .$if((f.projectIds?.length ?? 0) > 0, (q) => q.where('project_id', 'in', f.projectIds!))
    .$if((f.sourceTypes?.length ?? 0) > 0, (q) =>
      q.where((eb) => eb(eb.ref('feedback_source', '->>').key('type'), 'in', f.sourceTypes!)),
    )
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .offset(f.offset)
    .limit(f.limit)
    .execute();
}

export type FeedbackRow = Awaited<ReturnType<typeof listFeedback>>[number];

export async function findFeedback(db: Db, workspaceId: string, id: string) {
  return db
    .selectFrom('feedback')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export interface FeedbackPatch {
  score?: number | null;
  value?: unknown;
  comment?: string | null;
  correction?: unknown;
}

/** Only the keys present in the patch change (the SDK sends just the changed ones). */
export async function patchFeedback(db: Db, workspaceId: string, id: string, patch: FeedbackPatch) {
  const set: Record<string, unknown> = { modified_at: new Date() };
  if ('score' in patch) set.score = patch.score ?? null;
  if ('value' in patch) set.value = patch.value === undefined ? null : JSON.stringify(patch.value);
  if ('comment' in patch) set.comment = patch.comment ?? null;
  if ('correction' in patch)
    set.correction = patch.correction === undefined ? null : JSON.stringify(patch.correction);
  return db
    .updateTable('feedback')
    .set(set)
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteFeedback(db: Db, workspaceId: string, id: string): Promise<boolean> {
  const res = await db
    .deleteFrom('feedback')
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function feedbackForRun(db: Db, workspaceId: string, runId: string) {
  return db
    .selectFrom('feedback')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('run_id', '=', runId)
    .orderBy('created_at')
    .execute();
}
