import { shouldNotify, StateModel } from '../src/model';
import { IGeneration } from '../src/protocol';
import { kernelStatus } from './fixtures';

const NOW = 1_800_000_000;

function generation(id: number, extra: Partial<IGeneration> = {}): IGeneration {
  return {
    id,
    time: NOW - 180,
    trigger: 'periodic',
    variables: Object.fromEntries(
      Array.from({ length: 14 }, (_, i) => [`v${i}`, 'int'])
    ),
    bytes: 1.2e9,
    duration: 0.9,
    skipped: {},
    error: null,
    problem: null,
    sizes: {},
    ...extra
  };
}

const kernel = kernelStatus;

describe('StateModel.view', () => {
  it('says none without checkpoints', () => {
    const model = new StateModel();
    expect(model.view(NOW).text).toBe('State: none');
    model.setGenerations([]);
    expect(model.view(NOW)).toMatchObject({
      text: 'State: none',
      level: 'none'
    });
  });

  it('summarises the newest generation', () => {
    const model = new StateModel();
    model.setGenerations([generation(3), generation(2)]);
    expect(model.view(NOW)).toMatchObject({
      text: 'State: saved 3 min ago · 1.2 GB · 14 vars',
      level: 'ok'
    });
  });

  it('shows saving progress as a percentage of the last size', () => {
    const model = new StateModel();
    model.setGenerations([generation(1)]);
    model.setKernelStatus(kernel());
    model.setProgress({ trigger: 'periodic', estimate: 1000, done: 450 });
    expect(model.view(NOW)).toMatchObject({
      text: 'State: saving… 45 %',
      level: 'busy'
    });
    model.setProgress({ trigger: 'periodic', estimate: 1000, done: 5000 });
    expect(model.view(NOW).text).toBe('State: saving… 99 %');
    model.setProgress({ trigger: 'manual', estimate: 0, done: 12_300_000 });
    expect(model.view(NOW).text).toBe('State: saving… 12.3 MB');
  });

  it('warns about skipped variables, failed saves and damaged checkpoints', () => {
    const model = new StateModel();
    model.setGenerations([generation(2, { skipped: { fh: 'open file' } })]);
    const skipped = model.view(NOW);
    expect(skipped.level).toBe('warning');
    expect(skipped.title).toContain('fh (open file)');

    model.setGenerations([generation(2, { problem: 'blob missing' })]);
    expect(model.view(NOW)).toMatchObject({
      level: 'warning',
      title: expect.stringMatching(/^blob missing\n/)
    });

    model.setKernelStatus(kernel({ last_error: 'disk full' }));
    expect(model.view(NOW)).toMatchObject({
      text: 'State: save failed',
      level: 'warning'
    });
    expect(model.view(NOW).title).toContain('disk full');
  });

  it('prefers the kernel report when it is newer than the listing', () => {
    const model = new StateModel();
    model.setGenerations([generation(1)]);
    model.setKernelStatus(
      kernel({
        last_save: {
          generation: 2,
          trigger: 'end',
          time: NOW - 5,
          variables: 3,
          saved: ['a', 'b', 'c'],
          skipped: {},
          bytes_total: 2048,
          bytes_written: 2048,
          seconds: 0.1
        }
      })
    );
    expect(model.view(NOW).text).toBe(
      'State: saved just now · 2.0 KB · 3 vars'
    );
    expect(model.newest?.id).toBe(2);
  });

  it('reports a version mismatch first, and notifies listeners', () => {
    const model = new StateModel();
    let calls = 0;
    const stop = model.onChange(() => calls++);
    model.setConnectionProblem('install the same ipyckpt version');
    expect(model.view(NOW)).toMatchObject({
      text: 'State: version mismatch',
      level: 'error'
    });
    stop();
    model.setGenerations([]);
    expect(calls).toBe(1);
  });

  it('explains the details in the tooltip', () => {
    const model = new StateModel();
    model.setGenerations([generation(3, { skipped: { fh: 'open file' } })]);
    model.setKernelStatus(
      kernel({
        store: '/home/me/.ipyckpt/a.ipynb',
        last_restore: {
          generation: 2,
          created: NOW - 600,
          trigger: 'end',
          restored: ['a', 'b'],
          conflicts: [],
          failed: {},
          skipped: {},
          notes: [],
          auto: false,
          summary: '',
          removed: [],
          missing: {},
          made_by: {},
          recompute: null
        }
      })
    );
    const lines = model.view(NOW).title.split('\n');
    expect(lines[0]).toMatch(
      /^State checkpoint 3 \(periodic\), saved \d\d:\d\d \(3 min ago\): 14 variables, 1\.2 GB$/
    );
    expect(lines).toContain('1 variable not saved: fh (open file)');
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^Restored into this kernel: 2 variables from state checkpoint 2 \(\d\d:\d\d\)$/
      )
    );
    expect(lines).toContain('Store: /home/me/.ipyckpt/a.ipynb');
  });
});

describe('StateModel listings', () => {
  const saved = (gen: number) =>
    kernel({
      last_save: {
        generation: gen,
        trigger: 'manual',
        time: NOW - 5,
        variables: 1,
        saved: ['a'],
        skipped: {},
        bytes_total: 10,
        bytes_written: 10,
        seconds: 0.1
      }
    });

  it('trusts a listing requested after the last save (a deleted newest generation)', () => {
    const model = new StateModel();
    model.setGenerations([generation(2), generation(1)]);
    model.setKernelStatus(saved(2));
    expect(model.newest?.id).toBe(2);
    const ticket = model.listingTicket();
    model.setGenerations([generation(1)], ticket); // generation 2 was deleted
    expect(model.newest?.id).toBe(1);
    expect(model.view(NOW).title).toContain('State checkpoint 1 ');
  });

  it('keeps the kernel report while the listing predates the save', () => {
    const model = new StateModel();
    const ticket = model.listingTicket();
    model.setKernelStatus(saved(4));
    model.setGenerations([generation(3)], ticket);
    expect(model.newest?.id).toBe(4);
  });

  it('drops an older listing that answers late', () => {
    const model = new StateModel();
    const first = model.listingTicket();
    const second = model.listingTicket();
    model.setGenerations([generation(2), generation(1)], second);
    model.setGenerations([generation(1)], first);
    expect(model.generations?.map(g => g.id)).toEqual([2, 1]);
  });

  it('shows nothing at once after the store is cleared', () => {
    const model = new StateModel();
    model.setGenerations([generation(2), generation(1)]);
    model.setKernelStatus(saved(2));
    model.setKernelStatus(kernel({ last_save: null }));
    model.setCleared();
    expect(model.view(NOW).text).toBe('State: none');
    expect(model.generations).toEqual([]);
  });
});

describe('shouldNotify', () => {
  it('tells a real kernel start once', () => {
    const told = new Set<string>();
    expect(shouldNotify(kernel({ token: 'a' }), told)).toBe(true);
    expect(shouldNotify(kernel({ token: 'a' }), told)).toBe(false); // the second hello
    expect(shouldNotify(kernel({ token: 'b', noticed: true }), told)).toBe(
      false
    ); // a reloaded page
    expect(
      shouldNotify(kernel({ token: 'c', fresh_kernel: false }), told)
    ).toBe(false); // %unload_ext + %load_ext
  });
});
