import { diag } from '@opentelemetry/api';

/**
 * The SDK's one error reporter. Everything that goes wrong inside the SDK ends here,
 * never in the host's console and never as an exception in the host's code path.
 * It goes to OTel's `diag` logger (silent unless the app installed one) and is
 * counted, so `getStats().internalErrors` shows problems even when nobody logs.
 */
let internalErrors = 0;

export function reportError(where: string, error: unknown): void {
  internalErrors++;
  try {
    diag.error(`@loupe/sdk: ${where}: ${error instanceof Error ? error.message : String(error)}`);
  } catch {
    // a broken diag logger must not break the host either
  }
}

export function reportWarning(message: string): void {
  try {
    diag.warn(`@loupe/sdk: ${message}`);
  } catch {
    // see reportError
  }
}

export function internalErrorCount(): number {
  return internalErrors;
}

/** Runs `fn`; on any exception reports it and returns `fallback`. For SDK-internal work only. */
export function safe<T>(where: string, fallback: T, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    reportError(where, error);
    return fallback;
  }
}

/** Same for user callbacks (redact, sampling…): a throwing callback never reaches the host. */
export function safeCallback<A extends unknown[], R>(
  where: string,
  fn: ((...args: A) => R) | undefined,
  fallback: (...args: A) => R,
): (...args: A) => R {
  if (fn === undefined) return fallback;
  return (...args: A) => {
    try {
      return fn(...args);
    } catch (error) {
      reportError(`${where} callback threw`, error);
      return fallback(...args);
    }
  };
}
