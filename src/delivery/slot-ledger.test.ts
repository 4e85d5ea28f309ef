import { describe, expect, it } from 'vitest';
import { SlotLedger } from './slot-ledger.js';

const endpoint = { key: 'endpoint:ep_1', rate: 10 };
const account = { key: 'account:acc_1', rate: 4 };

describe('SlotLedger', () => {
  it('answers the latest slot under any of the limits, 0 when none was reserved', () => {
    const slots = new SlotLedger(() => 0);
    expect(slots.reservedUntil([endpoint, account])).toBe(0);
    slots.note(['endpoint:ep_1'], 1_500);
    slots.note(['account:acc_1'], 2_000);
    expect(slots.reservedUntil([endpoint])).toBe(1_500);
    expect(slots.reservedUntil([endpoint, account])).toBe(2_000);
  });

  it('keeps the latest slot of a key: an earlier one noted after it does not move it back', () => {
    const slots = new SlotLedger(() => 0);
    slots.note(['endpoint:ep_1'], 3_000);
    slots.note(['endpoint:ep_1'], 1_000);
    expect(slots.reservedUntil([endpoint])).toBe(3_000);
  });

  it('counts an awaited reservation one interval of each rate after the last slot, or after now', () => {
    const slots = new SlotLedger(() => 0);
    slots.expect([endpoint, account], 1_000);
    // 10/s: 100 ms after now; 4/s: 250 ms after now.
    expect([slots.reservedUntil([endpoint]), slots.reservedUntil([account])]).toEqual([1_100, 1_250]);
    slots.expect([endpoint, account], 1_000);
    expect([slots.reservedUntil([endpoint]), slots.reservedUntil([account])]).toEqual([1_200, 1_500]);
  });

  it('drops the keys whose slots have passed once it holds its most', () => {
    let now = 0;
    const slots = new SlotLedger(() => now, 2);
    slots.note(['endpoint:old'], 100);
    slots.note(['endpoint:later'], 5_000);
    now = 1_000;
    slots.note(['endpoint:new'], 2_000);
    expect(slots.reservedUntil([{ key: 'endpoint:old', rate: 1 }])).toBe(0);
    expect(slots.reservedUntil([{ key: 'endpoint:later', rate: 1 }])).toBe(5_000);
    expect(slots.reservedUntil([{ key: 'endpoint:new', rate: 1 }])).toBe(2_000);
  });
});
