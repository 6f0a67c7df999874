/**
 * LangSmith SDK project ("session") calls against Loupe: create (409 on duplicates,
 * upsert), read by name and id, hasProject, update (null = unchanged), list (paging,
 * filters), delete, `run_count` = root runs, and `tenant_id` on `GET /sessions?limit=1`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCurrentRunTree, traceable } from 'langsmith/traceable';
import { startTestServer, testBackends, type TestServer } from '@loupe/collector/testing';
import {
  HttpError,
  collect,
  httpJson,
  nativeApi,
  poll,
  rejectionStatus,
  sdkClient,
  type SdkClient,
} from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.each(testBackends())('LangSmith SDK projects → Loupe [%s]', (kind) => {
  let server: TestServer;
  let sdk: SdkClient;

  beforeAll(async () => {
    server = await startTestServer(kind);
    sdk = sdkClient(`${server.url}/api/v1`, server.apiKey);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('createProject returns the project; a duplicate name is a 409 conflict; upsert returns the existing one', async () => {
    const { client } = sdk;
    const before = Date.now();
    const created = await client.createProject({
      projectName: 'proj-create',
      description: 'the first project',
      metadata: { team: 'e2e', n: 1 },
    });
    expect(created).toMatchObject({
      name: 'proj-create',
      description: 'the first project',
      extra: { metadata: { team: 'e2e', n: 1 } },
      end_time: null,
      reference_dataset_id: null,
      run_count: 0,
    });
    expect(created.id).toMatch(UUID);
    expect(created.tenant_id).toMatch(UUID);
    expect(new Date(created.start_time).getTime()).toBeGreaterThanOrEqual(before - 1000);

    const duplicate = client.createProject({ projectName: 'proj-create', description: 'again' });
    await expect(duplicate).rejects.toMatchObject({ name: 'LangSmithConflictError' });
    expect(await rejectionStatus(client.createProject({ projectName: 'proj-create' }))).toBe(409);
    // the failed creates changed nothing
    const still = await client.readProject({ projectName: 'proj-create' });
    expect(still).toMatchObject({ id: created.id, description: 'the first project' });

    const upserted = await client.createProject({ projectName: 'proj-create', upsert: true });
    expect(upserted.id).toBe(created.id);
    expect(upserted.name).toBe('proj-create');
  });

  it('readProject by name and by id, hasProject, unknown projects', async () => {
    const { client } = sdk;
    const created = await client.createProject({
      projectName: 'proj-read',
      description: 'read me',
      metadata: { k: 'v' },
    });
    const byName = await client.readProject({ projectName: 'proj-read' });
    const byId = await client.readProject({ projectId: created.id });
    for (const p of [byName, byId]) {
      expect(p).toMatchObject({
        id: created.id,
        name: 'proj-read',
        description: 'read me',
        extra: { metadata: { k: 'v' } },
        tenant_id: created.tenant_id,
        run_count: 0,
      });
    }
    expect(await client.hasProject({ projectName: 'proj-read' })).toBe(true);
    expect(await client.hasProject({ projectId: created.id })).toBe(true);
    expect(await client.hasProject({ projectName: 'proj-never-created' })).toBe(false);

    await expect(client.readProject({ projectName: 'proj-never-created' })).rejects.toThrow(
      /not found/,
    );
    const missingId = '00000000-0000-4000-8000-00000000dead';
    await expect(client.readProject({ projectId: missingId })).rejects.toMatchObject({
      name: 'LangSmithNotFoundError',
    });
    // the SDK turns a 404 by id into a throw, not `false`
    expect(await rejectionStatus(client.hasProject({ projectId: missingId }))).toBe(404);
  });

  it('updateProject: given fields change, null fields stay unchanged, renames collide with 409', async () => {
    const { client } = sdk;
    const p = await client.createProject({
      projectName: 'proj-update',
      description: 'v1',
      metadata: { team: 'e2e', v: 1 },
    });
    await client.createProject({ projectName: 'proj-update-other' });

    // description + metadata; name and end_time are sent as null
    const u1 = await client.updateProject(p.id, {
      description: 'v2',
      metadata: { team: 'e2e', v: 2 },
    });
    expect(u1).toMatchObject({
      id: p.id,
      name: 'proj-update',
      description: 'v2',
      extra: { metadata: { team: 'e2e', v: 2 } },
      end_time: null,
    });

    // rename + end time only; description/extra are sent as null → unchanged
    const end = new Date('2026-01-02T03:04:05.678Z');
    const u2 = await client.updateProject(p.id, {
      name: 'proj-update-renamed',
      endTime: end.toISOString(),
    });
    expect(u2).toMatchObject({
      id: p.id,
      name: 'proj-update-renamed',
      description: 'v2',
      extra: { metadata: { team: 'e2e', v: 2 } },
    });
    expect(new Date(u2.end_time!).toISOString()).toBe(end.toISOString());

    // everything null → nothing changes
    const u3 = await client.updateProject(p.id, {});
    expect(u3).toMatchObject({
      name: 'proj-update-renamed',
      description: 'v2',
      extra: { metadata: { team: 'e2e', v: 2 } },
    });
    expect(new Date(u3.end_time!).toISOString()).toBe(end.toISOString());

    const read = await client.readProject({ projectId: p.id });
    expect(read).toMatchObject({ name: 'proj-update-renamed', description: 'v2' });
    expect(await client.hasProject({ projectName: 'proj-update' })).toBe(false);

    expect(await rejectionStatus(client.updateProject(p.id, { name: 'proj-update-other' }))).toBe(
      409,
    );
    expect((await client.readProject({ projectId: p.id })).name).toBe('proj-update-renamed');
    expect(
      await rejectionStatus(
        client.updateProject('00000000-0000-4000-8000-00000000beef', { description: 'x' }),
      ),
    ).toBe(404);
  });

  it('listProjects pages past 100 and filters by name, name_contains and id', async () => {
    const { client, requests } = sdk;
    const names = Array.from({ length: 123 }, (_, i) => `proj-page-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names.slice(i, i + 20).map((projectName) => client.createProject({ projectName })),
      );
    }
    await client.createProject({ projectName: 'proj-other-list' });

    requests.length = 0;
    const paged = await collect(client.listProjects({ nameContains: 'page-' }));
    expect(paged.map((p) => p.name).sort()).toEqual(names);
    expect(new Set(paged.map((p) => p.id)).size).toBe(names.length);
    const pages = requests.filter((r) => r.path.startsWith('/api/v1/sessions?'));
    expect(pages.map((r) => new URL(r.path, server.url).searchParams.get('offset'))).toEqual([
      '0',
      '100',
    ]);

    const everything = await collect(client.listProjects());
    expect(everything.length).toBeGreaterThan(names.length);
    expect(everything.map((p) => p.name)).toContain('proj-other-list');

    const exact = await collect(client.listProjects({ name: 'proj-page-042' }));
    expect(exact.map((p) => p.name)).toEqual(['proj-page-042']);
    expect(await collect(client.listProjects({ name: 'proj-page-' }))).toEqual([]);

    const contains = await collect(client.listProjects({ nameContains: 'page-11' }));
    expect(contains.map((p) => p.name).sort()).toEqual(names.filter((n) => n.includes('page-11')));

    const two = paged.filter((p) => ['proj-page-001', 'proj-page-099'].includes(p.name ?? ''));
    const byIds = await collect(client.listProjects({ projectIds: two.map((p) => p.id) }));
    expect(byIds.map((p) => p.id).sort()).toEqual(two.map((p) => p.id).sort());
  });

  it('deleteProject by id and by name removes the project and its runs', async () => {
    const { client } = sdk;
    const a = await client.createProject({ projectName: 'proj-delete-a' });
    await client.createProject({ projectName: 'proj-delete-b' });

    let rootId: string | undefined;
    const traced = traceable(
      async (x: number) => {
        rootId = getCurrentRunTree().id;
        return x * 2;
      },
      { name: 'doomed', client, project_name: 'proj-delete-a', tracingEnabled: true },
    );
    await traced(21);
    await client.awaitPendingTraceBatches();
    const native = nativeApi(server.url, server.apiKey);
    await poll('the run in proj-delete-a', () => native.run(rootId!));

    await client.deleteProject({ projectId: a.id });
    expect(await client.hasProject({ projectName: 'proj-delete-a' })).toBe(false);
    expect(await rejectionStatus(client.readProject({ projectId: a.id }))).toBe(404);
    await expect(native.run(rootId!)).rejects.toMatchObject({ status: 404 });

    await client.deleteProject({ projectName: 'proj-delete-b' });
    expect(await client.hasProject({ projectName: 'proj-delete-b' })).toBe(false);
    expect(await rejectionStatus(client.deleteProject({ projectId: a.id }))).toBe(404);
  });

  it('run_count counts root runs only (auto-created project from session_name)', async () => {
    const { client } = sdk;
    const project = 'proj-run-count';
    const child = traceable(async (s: string) => s.toUpperCase(), {
      name: 'child',
      client,
      project_name: project,
      tracingEnabled: true,
    });
    const root = traceable(async (s: string) => `${await child(s)}!`, {
      name: 'root',
      client,
      project_name: project,
      tracingEnabled: true,
    });
    await root('a');
    await root('b');
    await root('c');
    await client.awaitPendingTraceBatches();

    const native = nativeApi(server.url, server.apiKey);
    await poll('6 runs in the project', async () => {
      const page = await native.runs({ project });
      return page.runs.length === 6 ? page : undefined;
    });
    const p = await client.readProject({ projectName: project });
    expect(p.run_count).toBe(3);
    const listed = await collect(client.listProjects({ name: project }));
    expect(listed.map((x) => x.run_count)).toEqual([3]);
    expect((await client.readProject({ projectId: p.id })).run_count).toBe(3);
  });

  it('GET /sessions?limit=1 carries tenant_id (the SDK builds URLs from it)', async () => {
    const { client } = sdk;
    const sessions = await httpJson<{ id: string; tenant_id: string }[]>(
      server.url,
      server.apiKey,
      'GET',
      '/api/v1/sessions?limit=1&offset=0',
    );
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.tenant_id).toMatch(UUID);
    const p = await client.readProject({ projectName: 'proj-read' });
    const url = await client.getProjectUrl({ projectId: p.id });
    expect(url).toContain(`/o/${sessions[0]!.tenant_id}/projects/p/${p.id}`);
    // the root spelling answers the same
    const root = await httpJson<{ tenant_id: string }[]>(
      server.url,
      server.apiKey,
      'GET',
      '/sessions?limit=1&offset=0',
    );
    expect(root[0]!.tenant_id).toBe(sessions[0]!.tenant_id);
  });

  it('a bad query parameter is a 400, not a silent default', async () => {
    await expect(
      httpJson(server.url, server.apiKey, 'GET', '/api/v1/sessions?limit=abc'),
    ).rejects.toMatchObject({ status: 400, constructor: HttpError });
  });
});
