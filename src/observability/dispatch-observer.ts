// What the dispatcher reports, turned into metrics and one debug line per attempt.
import type { Logger } from 'pino';
import type { AttemptMade, AttemptOutcome, DispatchObserver } from '../delivery/dispatcher.js';
import type { ClaimedDelivery } from '../store/contract.js';
import type { HeraldMetrics } from './metrics.js';

export interface DispatchObserverDeps {
  readonly metrics: Pick<HeraldMetrics, 'recordAttempt' | 'recordThrottled'>;
  readonly logger: Logger;
  /** The endpoint's profile when this process knows the endpoint. */
  readonly profileOf: (endpointId: string) => string | undefined;
}

export function createDispatchObserver(deps: DispatchObserverDeps): DispatchObserver {
  const { metrics, logger, profileOf } = deps;
  return {
    attempted(d, result, outcome) {
      metrics.recordAttempt(profileOf(d.endpointId) ?? 'unknown', outcome, result.attempt.durationMs);
      // Checked first so that, above debug, no log object is built for thousands of attempts a second.
      if (logger.isLevelEnabled('debug')) logger.debug(attemptLogFields(d, result, outcome), 'delivery attempt');
    },
    throttled() {
      metrics.recordThrottled();
    },
    refused(ids) {
      // Expected after a lease ran out (the delivery went out again elsewhere): not an error.
      for (const deliveryId of ids) logger.debug({ deliveryId }, "settlement not written: this worker no longer held the delivery's lease");
    },
  };
}

export interface AttemptLogFields {
  readonly deliveryId: string;
  readonly eventId: string;
  readonly endpointId: string;
  readonly accountId: string;
  readonly eventType: string;
  readonly attempt: number;
  readonly outcome: AttemptOutcome;
  readonly statusCode: number | null;
  readonly errorKind: string | null;
  readonly durationMs: number;
}

/**
 * The fields of an attempt's log line: identifiers and the classified result only. Request
 * headers, bodies, the URL and the error message (which may quote the URL) stay out: they can
 * carry credentials, and the attempt record in the store keeps them masked.
 */
export function attemptLogFields(d: ClaimedDelivery, result: AttemptMade, outcome: AttemptOutcome): AttemptLogFields {
  const a = result.attempt;
  return {
    deliveryId: d.id,
    eventId: d.eventId,
    endpointId: d.endpointId,
    accountId: d.accountId,
    eventType: d.eventType,
    attempt: a.attemptNo,
    outcome,
    statusCode: a.statusCode,
    errorKind: a.errorKind,
    durationMs: a.durationMs,
  };
}
