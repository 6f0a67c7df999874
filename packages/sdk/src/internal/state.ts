import type { SerializeLimits } from './serialize.js';
import { DEFAULT_LIMITS } from './serialize.js';

/** What a redact hook is told about the value it may change. */
export interface RedactInfo {
  kind: 'inputs' | 'outputs';
  runType: string;
  name: string;
}

export type Redact = (value: unknown, info: RedactInfo) => unknown;
export type HideOption = boolean | ((value: unknown, info: RedactInfo) => boolean);

/**
 * Payload options shared by every span producer (traceable, wrappers). Set by
 * `init()` or `loupeSpanProcessor(options)`; defaults apply otherwise.
 */
export interface PayloadOptions {
  redact: Redact | undefined;
  hideInputs: HideOption;
  hideOutputs: HideOption;
  limits: SerializeLimits;
}

let payloadOptions: PayloadOptions = {
  redact: undefined,
  hideInputs: false,
  hideOutputs: false,
  limits: DEFAULT_LIMITS,
};

export function getPayloadOptions(): PayloadOptions {
  return payloadOptions;
}

export function setPayloadOptions(next: Partial<PayloadOptions>): void {
  payloadOptions = { ...payloadOptions, ...next };
}

export function resetPayloadOptions(): void {
  payloadOptions = {
    redact: undefined,
    hideInputs: false,
    hideOutputs: false,
    limits: DEFAULT_LIMITS,
  };
}

/**
 * Where the app's traces go, as given to init() / loupeSpanProcessor(): the data client
 * and createFeedback() reuse it so an app configures the endpoint and key once.
 */
export interface Connection {
  endpoint?: string;
  apiKey?: string;
}

let connection: Connection = {};

export function setConnection(next: Connection): void {
  connection = { ...next };
}

export function getConnection(): Connection {
  return connection;
}
