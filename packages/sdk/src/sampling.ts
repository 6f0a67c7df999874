/**
 * Head sampling for Loupe: the root span decides from its trace id, every descendant
 * follows its parent (ParentBased). So a trace is kept or dropped whole, and the same
 * trace id gets the same decision in every process — a request that crosses services
 * is not half-sampled.
 */
import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import {
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';
import { reportError } from './internal/report.js';
import { resolveSampleRate } from './config.js';

export interface LoupeSamplerOptions {
  /** share of traces kept, in [0, 1]; env LOUPE_SAMPLE_RATE; default 1 */
  sampleRate?: number;
  /** decides for root spans instead of the rate; a throwing one falls back to the rate */
  sampler?: Sampler;
}

const DECISIONS = new Set<unknown>([
  SamplingDecision.NOT_RECORD,
  SamplingDecision.RECORD,
  SamplingDecision.RECORD_AND_SAMPLED,
]);

/**
 * Runs a user sampler behind a guard: an exception or a malformed result falls back to
 * `fallback` (the rate sampler), because a bug in the app's sampling callback must not
 * turn every `startSpan` in the host into a throw.
 */
class GuardedSampler implements Sampler {
  constructor(
    private readonly user: Sampler,
    private readonly fallback: Sampler,
  ) {}

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    try {
      const result = this.user.shouldSample(
        context,
        traceId,
        spanName,
        spanKind,
        attributes,
        links,
      );
      if (typeof result === 'object' && result !== null && DECISIONS.has(result.decision)) {
        return result;
      }
      reportError('sampler', `shouldSample returned no valid decision; using the sample rate`);
    } catch (error) {
      reportError('sampler callback threw; using the sample rate', error);
    }
    return this.fallback.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    let inner = 'user sampler';
    try {
      inner = this.user.toString();
    } catch (error) {
      reportError('sampler toString threw', error);
    }
    return `LoupeGuarded{${inner}}`;
  }
}

/** ParentBased(TraceIdRatio(sampleRate)), or ParentBased(guarded user sampler). Never throws. */
export function loupeSampler(options: LoupeSamplerOptions = {}): Sampler {
  const rate = new TraceIdRatioBasedSampler(resolveSampleRate(options.sampleRate));
  const user = options.sampler;
  if (user === undefined || user === null) return new ParentBasedSampler({ root: rate });
  if (typeof (user as Partial<Sampler>).shouldSample !== 'function') {
    reportError('invalid option sampler', 'it has no shouldSample(); using the sample rate');
    return new ParentBasedSampler({ root: rate });
  }
  return new ParentBasedSampler({ root: new GuardedSampler(user, rate) });
}
