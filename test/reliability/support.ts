// Shared pieces of the reliability tests: memory of a child process, API polling.
import { readFileSync } from 'node:fs';
import { apiCall } from '../process.js';

/** Resident set size of a process in bytes, from /proc/<pid>/status (Linux); undefined once it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface RssSampler {
  /** Largest RSS seen so far, in bytes. */
  max(): number;
  samples(): number;
  stop(): void;
}

/** Samples a process's RSS every `everyMs` until stopped. */
export function sampleRss(pid: number, everyMs = 100): RssSampler {
  let max = rssOf(pid) ?? 0;
  let count = 1;
  const timer = setInterval(() => {
    const rss = rssOf(pid);
    if (rss === undefined) return;
    max = Math.max(max, rss);
    count++;
  }, everyMs);
  return {
    max: () => max,
    samples: () => count,
    stop: () => clearInterval(timer),
  };
}

export const MiB = 1024 * 1024;

export interface DeliveryDto {
  id: string;
  event_id: string;
  endpoint_id: string;
  status: 'pending' | 'in_flight' | 'succeeded' | 'failed';
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  attempt_log: { attempt: number; status_code: number | null; error_kind: string | null; started_at: string }[];
}

/** Every delivery of an endpoint (all pages), with its attempts. */
export async function deliveriesOf(url: string, endpointId: string): Promise<DeliveryDto[]> {
  const out: DeliveryDto[] = [];
  let cursor: string | null = null;
  do {
    const res = await apiCall(url, 'GET', `/api/v2/endpoints/${endpointId}/deliveries?limit=250${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (res.status !== 200) throw new Error(`listing deliveries of ${endpointId} answered ${res.status}: ${JSON.stringify(res.body)}`);
    out.push(...(res.body.data as DeliveryDto[]));
    cursor = res.body.next_cursor as string | null;
  } while (cursor);
  return out;
}

export interface Stats {
  pending: number;
  in_flight: number;
  succeeded: number;
  failed: number;
  retrying: number;
}

export async function statsOf(url: string): Promise<Stats> {
  const res = await apiCall(url, 'GET', '/api/v2/stats');
  return res.body.deliveries as Stats;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
