import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { LoupeError } from '../../../errors.js';
import type { ErrorEnvelope } from '../../../plugins/error-handler.plugin.js';
import { acceptRawBodies, decodeBody, mediaType } from '../../../plugins/raw-body.js';
import type { RunWriter } from '../run-writer.js';
import {
  decodeLogsRequest,
  decodeTraceRequest,
  encodeLogsResponse,
  encodeStatus,
  encodeTraceResponse,
} from './otlp-decode.js';
import { mapLogs, mapSpans } from './otlp-map.js';

type Format = 'protobuf' | 'json';

const CONTENT_TYPE: Record<Format, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

function formatOf(request: FastifyRequest): Format {
  const type = mediaType(request);
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  throw new LoupeError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Content-Type "${type || '(none)'}" is not supported; OTLP/HTTP takes application/x-protobuf or application/json`,
  );
}

/** HTTP status → google.rpc.Code for the Status body. */
const GRPC_CODE: Record<number, number> = {
  400: 3,
  401: 16,
  403: 7,
  404: 5,
  413: 3,
  415: 3,
  429: 8,
  503: 14,
};

/** OTLP errors are a google.rpc.Status in the request's encoding (JSON when it had none we know). */
function renderStatus(request: FastifyRequest, reply: FastifyReply, envelope: ErrorEnvelope) {
  let format: Format = 'json';
  try {
    format = formatOf(request);
  } catch {
    // unknown content type: answer in JSON
  }
  const message = `${envelope.code}: ${envelope.message}`;
  return reply
    .header('content-type', CONTENT_TYPE[format])
    .send(encodeStatus(format, GRPC_CODE[envelope.statusCode] ?? 13, message));
}

function projectHeader(request: FastifyRequest): string | undefined {
  for (const name of ['x-loupe-project', 'langsmith-project']) {
    const value = request.headers[name];
    const v = Array.isArray(value) ? value[0] : value;
    if (v !== undefined && v.trim() !== '') return v.trim();
  }
  return undefined;
}

export interface OtlpRoutesOptions {
  writer: RunWriter;
  maxBodyBytes: number;
  defaultProject: string;
}

/**
 * OTLP/HTTP receiver: POST /v1/traces and /v1/logs. 200 only after commit; per-span
 * rejects go in partial_success (clients do not retry those); 503 + Retry-After
 * under back-pressure (clients retry 429/502/503/504 only).
 */
export const otlpRoutes: FastifyPluginAsync<OtlpRoutesOptions> = async (app, opts) => {
  acceptRawBodies(app, opts.maxBodyBytes);
  const config = { renderError: renderStatus };

  app.post('/v1/traces', { config, schema: { hide: true } }, async (request, reply) => {
    const { workspaceId } = app.requireIdentity(request);
    const format = formatOf(request);
    const body = await decodeBody(request, opts.maxBodyBytes);
    const headerProject = projectHeader(request);
    const mapped = mapSpans(decodeTraceRequest(body, format), {
      defaultProject: opts.defaultProject,
      ...(headerProject === undefined ? {} : { projectFromHeader: headerProject }),
    });
    await opts.writer.write(workspaceId, headerProject ?? opts.defaultProject, {
      runs: mapped.runs,
    });
    const partial =
      mapped.rejected > 0
        ? { rejected: mapped.rejected, errorMessage: mapped.errors.slice(0, 20).join('; ') }
        : undefined;
    return reply
      .header('content-type', CONTENT_TYPE[format])
      .send(encodeTraceResponse(format, partial));
  });

  app.post('/v1/logs', { config, schema: { hide: true } }, async (request, reply) => {
    const { workspaceId } = app.requireIdentity(request);
    const format = formatOf(request);
    const body = await decodeBody(request, opts.maxBodyBytes);
    const headerProject = projectHeader(request);
    const mapped = mapLogs(decodeLogsRequest(body, format), {
      defaultProject: opts.defaultProject,
      ...(headerProject === undefined ? {} : { projectFromHeader: headerProject }),
    });
    await opts.writer.write(workspaceId, headerProject ?? opts.defaultProject, {
      runs: mapped.runs,
    });
    // The spec allows partial_success with rejected = 0 as a warning channel: log
    // records without a span are accepted but not stored, and the sender should know.
    const messages = [...mapped.errors.slice(0, 20), ...mapped.notes];
    const partial =
      mapped.rejected > 0 || messages.length > 0
        ? { rejected: mapped.rejected, errorMessage: messages.join('; ') }
        : undefined;
    return reply
      .header('content-type', CONTENT_TYPE[format])
      .send(encodeLogsResponse(format, partial));
  });
};
