import {
  formatAge,
  formatBytes,
  formatClock,
  formatDuration,
  integrity,
  nextAgeChange,
  restoreDetails,
  restoreNotice,
  variableSummary
} from '../src/format';
import { IGeneration, IRestoreInfo } from '../src/protocol';

const at = (h: number, m: number, day = 26): number =>
  new Date(2026, 10, day, h, m, 0).getTime() / 1000;

function restore(extra: Partial<IRestoreInfo> = {}): IRestoreInfo {
  return {
    generation: 7,
    created: at(12, 3),
    trigger: 'periodic',
    restored: Array.from({ length: 14 }, (_, i) => `v${i}`),
    conflicts: [],
    failed: { model: 'class no longer importable' },
    skipped: { fh: 'open file' },
    notes: [],
    auto: true,
    summary: '',
    ...extra
  };
}

describe('formatBytes', () => {
  it('uses decimal units like the Python side', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(1.2e9)).toBe('1.2 GB');
    expect(formatBytes(5e15)).toBe('5000.0 TB');
  });
});

describe('formatAge', () => {
  it('says how long ago', () => {
    const now = 1_000_000;
    expect(formatAge(now - 3, now)).toBe('just now');
    expect(formatAge(now - 42, now)).toBe('42 s ago');
    expect(formatAge(now - 180, now)).toBe('3 min ago');
    expect(formatAge(now - 7300, now)).toBe('2 h ago');
    expect(formatAge(now - 4 * 86400, now)).toBe('4 d ago');
    expect(formatAge(now + 50, now)).toBe('just now');
  });
});

describe('formatClock', () => {
  it('shows the time today and the date otherwise', () => {
    expect(formatClock(at(12, 3), at(15, 0))).toBe('12:03');
    expect(formatClock(at(9, 5, 24), at(15, 0))).toBe('Nov 24 09:05');
  });
});

describe('formatDuration', () => {
  it('is short', () => {
    expect(formatDuration(0.934)).toBe('0.93 s');
    expect(formatDuration(12.4)).toBe('12 s');
    expect(formatDuration(185)).toBe('3 min 5 s');
  });
});

describe('restoreNotice', () => {
  it('reads like the issue asks', () => {
    expect(restoreNotice(restore(), true, at(12, 30))).toBe(
      'Kernel restarted: restored 14 variables from 12:03 (2 skipped)'
    );
  });
  it('mentions kept variables and nothing when all came back', () => {
    expect(
      restoreNotice(
        restore({ failed: {}, skipped: {}, conflicts: ['x'], restored: ['y'] }),
        false,
        at(12, 30)
      )
    ).toBe('Kernel started: restored 1 variable from 12:03 (1 kept)');
    expect(
      restoreNotice(restore({ failed: {}, skipped: {} }), true, at(12, 30))
    ).toBe('Kernel restarted: restored 14 variables from 12:03');
  });
  it('details every variable left out, with its reason', () => {
    const lines = restoreDetails(restore({ notes: ['generation 8 refused'] }));
    expect(lines[0]).toContain('State checkpoint 7 (periodic)');
    expect(lines).toContain('Not restored fh: open file');
    expect(lines).toContain('Not restored model: class no longer importable');
    expect(lines).toContain('Note: generation 8 refused');
  });
});

describe('integrity', () => {
  const gen = (extra: Partial<IGeneration>): IGeneration => ({
    id: 1,
    time: 0,
    trigger: 'end',
    variables: {},
    bytes: 0,
    duration: 0,
    skipped: {},
    error: null,
    problem: null,
    sizes: {},
    ...extra
  });
  it('classifies problems', () => {
    expect(integrity(gen({})).level).toBe('ok');
    expect(integrity(gen({ problem: 'not signed by this key' })).label).toBe(
      'not signed by your key'
    );
    expect(integrity(gen({ problem: 'blob ab12 is truncated' })).level).toBe(
      'error'
    );
    expect(integrity(gen({ error: 'ValueError: x' })).level).toBe('warning');
  });
});

describe('variableSummary', () => {
  it('prefers the summary recorded at save time', () => {
    expect(variableSummary('builtins.list', 'list[100000]')).toBe(
      'list[100000]'
    );
    expect(
      variableSummary('pandas.core.frame.DataFrame', 'DataFrame 1,000,000 × 3')
    ).toBe('DataFrame 1,000,000 × 3');
  });

  it('drops the module of the type otherwise (older checkpoints)', () => {
    expect(variableSummary('builtins.bool')).toBe('bool');
    expect(variableSummary('numpy.ndarray', '')).toBe('ndarray');
    expect(variableSummary('Thing')).toBe('Thing');
  });
});

describe('nextAgeChange', () => {
  it('is when the "ago" text changes next', () => {
    expect(nextAgeChange(3)).toBe(7); // "just now" until 10 s
    expect(nextAgeChange(12.5)).toBeCloseTo(0.5); // then each second
    expect(nextAgeChange(125)).toBe(55); // "2 min ago" until 180 s
    expect(nextAgeChange(3600 * 5 + 10)).toBe(3590);
    expect(nextAgeChange(86400 * 2 + 1)).toBe(86399);
  });

  it('always agrees with formatAge', () => {
    for (const age of [0, 9.9, 10, 59.5, 61, 3599, 3600, 86399.5, 90000]) {
      const now = 1_000_000;
      const next = nextAgeChange(age);
      expect(formatAge(now - age - next + 0.001, now)).toBe(
        formatAge(now - age, now)
      );
      expect(formatAge(now - age - next - 0.001, now)).not.toBe(
        formatAge(now - age, now)
      );
    }
  });
});
