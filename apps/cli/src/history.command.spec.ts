import { hybridFromMillis } from '@sync/protocol';
import { formatHistoryItem } from './history.command';

const NODE = '0a0a0a0a-0000-4000-8000-00000000000a';
const AT = Date.UTC(2026, 10, 24, 10, 0, 0, 250);
const hybrid = hybridFromMillis(AT).toString();

describe('formatHistoryItem', () => {
  it('shows offset, time from the hybrid, node and the field changes', () => {
    const line = formatHistoryItem({
      offset: '42',
      operation: {
        type: 'CREATE',
        recordId: NODE,
        model: 'Tag',
        data: { name: 'holiday', color: null },
        node: NODE,
        timestamp: { hybrid },
      },
      status: 'accepted',
    });
    expect(line).toBe(
      `      42  2026-11-24T10:00:00.250Z  ${NODE}  CREATE Tag name = "holiday", color = null`,
    );
  });

  it('marks rejected ops with their reason', () => {
    const line = formatHistoryItem({
      offset: '7',
      operation: {
        type: 'UPDATE',
        recordId: NODE,
        field: 'name',
        value: 'x',
        node: NODE,
        timestamp: { hybrid },
      },
      status: 'rejected',
      reason: 'NOT_OWNER',
    });
    expect(line).toMatch(/UPDATE name = "x" {2}REJECTED NOT_OWNER$/);
    const deleted = formatHistoryItem({
      offset: '8',
      operation: { type: 'DELETE', recordId: NODE, node: NODE, timestamp: { hybrid } },
      status: 'accepted',
    });
    expect(deleted.endsWith(`${NODE}  DELETE`)).toBe(true);
  });
});
