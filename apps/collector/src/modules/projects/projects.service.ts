import type { Db } from '../workspaces/workspaces.repository.js';
import { ensureProject, findProjectById } from './projects.repository.js';

/**
 * Resolves project names to ids for ingest, auto-creating unknown names (the
 * LangSmith SDK writes to projects it never created, e.g. "evaluators"). A small
 * cache keeps the hot path to one map lookup; entries are dropped on delete.
 */
export class ProjectResolver {
  private readonly byName = new Map<string, string>();
  private readonly known = new Set<string>();

  constructor(private readonly db: Db) {}

  async idForName(workspaceId: string, name: string): Promise<string> {
    const key = `${workspaceId}\u0000${name}`;
    const hit = this.byName.get(key);
    if (hit !== undefined) return hit;
    const id = await ensureProject(this.db, workspaceId, name);
    if (this.byName.size > 10_000) this.byName.clear();
    this.byName.set(key, id);
    return id;
  }

  /** True when the project id exists in this workspace. */
  async exists(workspaceId: string, id: string): Promise<boolean> {
    const key = `${workspaceId}\u0000${id}`;
    if (this.known.has(key)) return true;
    const row = await findProjectById(this.db, workspaceId, id);
    if (row === undefined) return false;
    this.known.add(key);
    return true;
  }

  forget(workspaceId: string, projectId: string): void {
    this.known.delete(`${workspaceId}\u0000${projectId}`);
    for (const [k, v] of this.byName) if (v === projectId) this.byName.delete(k);
  }
}
