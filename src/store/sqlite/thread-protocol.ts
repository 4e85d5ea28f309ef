// Messages between the main thread and the embedded store's thread.
import type { Store } from '../contract.js';
import type { WritesReport } from './sqlite-store.js';

/** Every Store method that returns a promise: what the thread can be asked to run. */
export type StoreMethod = { [K in keyof Store]: Store[K] extends (...args: never[]) => Promise<unknown> ? K : never }[keyof Store];

export interface StoreThreadOptions {
  readonly file: string;
  readonly synchronous: 'full' | 'normal';
  /** The credentials key as configured (hex or base64); the thread seals and opens secrets. */
  readonly key: string;
  /** The memory of the process's WriteLock for this file, when other threads write it too. */
  readonly writeLock?: SharedArrayBuffer;
}

export interface StoreCall {
  readonly id: number;
  readonly method: StoreMethod;
  readonly args: readonly unknown[];
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
}

/** Id 0 answers the thread's start: `ready`, or why the database could not be opened. */
export type StoreReply = { readonly id: number; readonly value: unknown } | { readonly id: number; readonly error: SerializedError };

/** The thread's store telling, unasked, that its disk refuses writes or takes them again (SqliteOptions.onWrites). */
export interface WritesNotice {
  readonly writes: { readonly state: 'refused'; readonly err: SerializedError } | Extract<WritesReport, { state: 'resumed' }>;
}

export function serializeWrites(report: WritesReport): WritesNotice['writes'] {
  return report.state === 'refused' ? { state: 'refused', err: serializeError(report.err) } : report;
}

/** Errors cross threads without their class; name, message and code are what callers look at. */
export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { name: err.name, message: err.message, code: typeof code === 'string' ? code : undefined, stack: err.stack };
}

export function deserializeError(e: SerializedError): Error {
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  // The thread's stack says where it failed; the caller's own stack follows from the await.
  if (e.stack) err.stack = e.stack;
  return err;
}
