// Parsing of the `Retry-After` response header (RFC 9110 §10.2.3). Pure: the clock is passed in.

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const LONG_DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const DAY = `(${DAY_NAMES.join('|')})`;
const LONG_DAY = `(${LONG_DAY_NAMES.join('|')})`;
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';

/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT` (the preferred form). */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** Obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC_850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** Obsolete asctime: `Sun Nov  6 08:49:37 1994`. */
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/**
 * Milliseconds since the epoch of an HTTP-date, or undefined when `value` is not one of the three
 * formats RFC 9110 allows. Parsed by hand: `Date.parse` accepts far too much ("2024", "1 2 3").
 */
export function parseHttpDate(value: string, now: number): number | undefined {
  let year: number;
  let month: number;
  let day: number;
  let time: [string, string, string];
  let m = IMF_FIXDATE.exec(value);
  if (m) {
    day = Number(m[2]);
    month = MONTHS.indexOf(m[3] as (typeof MONTHS)[number]);
    year = Number(m[4]);
    time = [m[5], m[6], m[7]];
  } else if ((m = RFC_850.exec(value))) {
    day = Number(m[2]);
    month = MONTHS.indexOf(m[3] as (typeof MONTHS)[number]);
    // Two-digit year: RFC 9110 says a year that appears to be more than 50 years in the future
    // is in the past century.
    const yy = Number(m[4]);
    const currentYear = new Date(now).getUTCFullYear();
    year = Math.floor(currentYear / 100) * 100 + yy;
    if (year > currentYear + 50) year -= 100;
    time = [m[5], m[6], m[7]];
  } else if ((m = ASCTIME.exec(value))) {
    month = MONTHS.indexOf(m[2] as (typeof MONTHS)[number]);
    day = Number(m[3].trim());
    time = [m[4], m[5], m[6]];
    year = Number(m[7]);
  } else {
    return undefined;
  }
  const [hh, mm, ss] = time.map(Number) as [number, number, number];
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return undefined;
  const ms = Date.UTC(year, month, day, hh, mm, Math.min(ss, 59));
  // Reject dates that roll over (31 Feb → 3 Mar).
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms;
}

/**
 * The delay a receiver asked for with `Retry-After`, in milliseconds from `now`.
 *
 * - delta-seconds (`120`) → 120000. Only digits are accepted, as the RFC says; `-5`, `1.5`,
 *   `5s` are garbage.
 * - HTTP-date → the time until that date; a date already past → 0 (retry allowed now).
 * - absent, empty or garbage → undefined (the caller keeps its own schedule).
 *
 * Huge values are returned as is (clamped to a safe integer); capping is the retry policy's job.
 */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '') return undefined;
  if (/^\d+$/.test(value)) {
    const ms = Number(value) * 1000;
    return Number.isFinite(ms) ? Math.min(ms, Number.MAX_SAFE_INTEGER) : Number.MAX_SAFE_INTEGER;
  }
  const at = parseHttpDate(value, now);
  if (at === undefined) return undefined;
  return Math.max(0, at - now);
}
