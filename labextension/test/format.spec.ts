import {
  canRecompute,
  cellLabel,
  formatAge,
  formatBytes,
  formatClock,
  formatDuration,
  integrity,
  losesUnsavedChanges,
  nextAgeChange,
  recomputeMessage,
  restoreDetails,
  restoreMessage,
  restoreNotice,
  variableSummary
} from '../src/format';
import { IGeneration, IRestoreInfo } from '../src/protocol';
import { kernelStatus } from './fixtures';

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
    removed: [],
    missing: { model: 'class no longer importable', fh: 'open file' },
    made_by: {},
    recompute: null,
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

/** A restore after a kernel restart: a connection and a generator could not be stored. */
function unpicklable(extra: Partial<IRestoreInfo> = {}): IRestoreInfo {
  const conn = "cannot pickle 'sqlite3.Connection' object";
  return restore({
    restored: ['path', 'sqlite3'],
    failed: {},
    skipped: { conn, rows: "cannot pickle 'generator' object" },
    missing: { conn, rows: "cannot pickle 'generator' object" },
    made_by: {
      conn: '[3] conn = sqlite3.connect(path)',
      rows: '[4] rows = (v for v in range(3))'
    },
    recompute: {
      cells: [
        {
          count: 3,
          cell: '[3] conn = sqlite3.connect(path)',
          makes: ['conn'],
          imports: []
        },
        {
          count: 4,
          cell: '[4] rows = (v for v in range(3))',
          makes: ['rows'],
          imports: []
        }
      ],
      refusals: [],
      unknown: []
    },
    ...extra
  });
}

describe('time travel and recompute', () => {
  it('labels a generation by its cell like %checkpoint list', () => {
    const cell = {
      key: 'k:12',
      count: 12,
      first_line: 'model.fit(X, y)',
      cell_id: null,
      started: 0
    };
    expect(cellLabel({ ...cell, state: 'after' })).toBe('[12] model.fit(X, y)');
    expect(cellLabel({ ...cell, state: 'during' })).toBe(
      'in [12] model.fit(X, y)'
    );
    expect(cellLabel({ ...cell, first_line: '', state: 'after' })).toBe('[12]');
    expect(cellLabel(null)).toBeNull();
    expect(cellLabel(undefined)).toBeNull();
  });

  it('offers Recompute only with cells to re-run and nothing blocking them', () => {
    expect(canRecompute(unpicklable())).toBe(true);
    expect(canRecompute(restore())).toBe(false);
    const blocked = unpicklable();
    blocked.recompute!.refusals = ['cell [4] reads conn, which is not defined'];
    expect(canRecompute(blocked)).toBe(false);
    const none = unpicklable();
    none.recompute!.cells = [];
    expect(canRecompute(none)).toBe(false);
  });

  it('says in the restart notice what Recompute re-creates', () => {
    expect(restoreNotice(unpicklable(), true, at(12, 30))).toBe(
      'Kernel restarted: restored 2 variables from 12:03 (2 skipped); ' +
        'Recompute re-creates conn, rows'
    );
  });

  it('says what a restore removed, skipped and can recompute', () => {
    expect(restoreMessage(unpicklable(), at(12, 30))).toBe(
      'Restored 2 variables from state checkpoint 7 (12:03), 2 skipped, ' +
        'Recompute re-creates conn, rows'
    );
    expect(
      restoreMessage(
        restore({ missing: {}, failed: {}, skipped: {}, removed: ['z'] }),
        at(12, 30)
      )
    ).toBe(
      'Restored 14 variables from state checkpoint 7 (12:03), 1 made later removed'
    );
  });

  it('details the cell that made each missing variable and what Recompute re-runs', () => {
    const lines = restoreDetails(unpicklable({ removed: ['z'] }));
    expect(lines).toContain('Removed (made after that point): z');
    expect(lines).toContain(
      "Not restored conn: cannot pickle 'sqlite3.Connection' object — made by cell " +
        '[3] conn = sqlite3.connect(path)'
    );
    expect(lines).toContain(
      'Recompute re-runs 2 cells, in order: [3] conn = sqlite3.connect(path); ' +
        '[4] rows = (v for v in range(3))'
    );
    const blocked = unpicklable();
    blocked.recompute!.refusals = ['cell [4] reads conn, which is not defined'];
    expect(restoreDetails(blocked)).toContain(
      'Cannot re-create them by re-running cells: cell [4] reads conn, which is not defined'
    );
  });

  it('reports what each re-run re-created, or the cell that failed', () => {
    const rerun = (
      count: number,
      made: string[],
      error: string | null = null
    ) => ({
      count,
      cell: `[${count}] ...`,
      imports: [],
      made,
      error
    });
    const report = { unknown: [], nothing_missing: false, lines: [] };
    expect(
      recomputeMessage({
        ...report,
        reruns: [rerun(3, ['conn']), rerun(4, ['rows'])]
      })
    ).toEqual({
      text: 'Recomputed conn, rows (re-ran cells [3], [4])',
      ok: true
    });
    expect(
      recomputeMessage({
        ...report,
        reruns: [
          rerun(3, ['conn']),
          rerun(4, [], 'OperationalError: no such table: t')
        ]
      })
    ).toEqual({
      text: 'Re-running cell [4] failed: OperationalError: no such table: t',
      ok: false
    });
    expect(
      recomputeMessage({
        ...report,
        reruns: [rerun(3, ['conn'])],
        unknown: ['fh']
      })
    ).toEqual({
      text: 'Recomputed conn (re-ran cell [3]); no recorded cell made fh',
      ok: false
    });
    expect(
      recomputeMessage({ ...report, reruns: [], nothing_missing: true }).text
    ).toMatch(/^Nothing to recompute/);
  });
});

describe('losesUnsavedChanges', () => {
  const status = (unsaved: boolean) =>
    kernelStatus({
      protection: {
        autosave: 'every 5 min',
        last_protected: 0,
        unsaved_changes: unsaved
      }
    });
  it('asks only when going back to a cell with changes no snapshot holds', () => {
    expect(losesUnsavedChanges(status(true), 2)).toBe(true);
    expect(losesUnsavedChanges(status(false), 2)).toBe(false);
    expect(losesUnsavedChanges(status(true), undefined)).toBe(false);
    expect(losesUnsavedChanges(kernelStatus(), 2)).toBe(false);
    expect(losesUnsavedChanges(null, 2)).toBe(false);
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
