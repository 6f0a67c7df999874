// Load generator for bench:ingest, run as its own process so the collector's figures
// are the collector's alone (as a real deployment's clients live elsewhere).
// argv: <url> <dir of *.pb request bodies> <clients> <api key>. Prints one JSON line.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const [url, dir, clientsArg, apiKey] = process.argv.slice(2);
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.pb'))
  .sort();
const bodies = files.map((f) => fs.readFileSync(path.join(dir, f)));
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/v1/traces`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/x-protobuf',
          'x-api-key': apiKey,
          'content-length': body.byteLength,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let next = 0;
let retries = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: Number(clientsArg) }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      for (let attempt = 0; ; attempt++) {
        const status = await post(body);
        if (status === 200) break;
        if (status !== 503 || attempt > 50) throw new Error(`ingest answered ${status}`);
        retries++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
agent.destroy();
process.stdout.write(JSON.stringify({ seconds, requests: bodies.length, retries }) + '\n');
