import { StateModel } from '../src/model';
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
      title: 'blob missing'
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
});
