/**
 * @jest-environment jsdom
 */
import { GenerationList, IGenerationActions } from '../src/generation';
import { IGeneration } from '../src/protocol';

const NOW = 1_800_000_000;

function generation(id: number, extra: Partial<IGeneration> = {}): IGeneration {
  return {
    id,
    time: NOW - 60 * id,
    trigger: 'end',
    variables: { a: 'builtins.int', b: 'builtins.list', c: 'numpy.ndarray' },
    bytes: 2048,
    duration: 0.5,
    skipped: {},
    error: null,
    problem: null,
    sizes: { a: 28, b: 900_300, c: 8000 },
    summaries: { b: 'list[100000]', c: 'ndarray float64 (1000,)' },
    ...extra
  };
}

function setup() {
  const restored: [number, string[] | undefined, number | undefined][] = [];
  const actions: IGenerationActions = {
    restore: async (gen, names, cell) => {
      restored.push([gen, names, cell]);
      return true;
    },
    remove: async () => true
  };
  const list = new GenerationList(actions);
  document.body.replaceChildren(list.node);
  const show = (gens: IGeneration[], now = NOW) =>
    list.update(gens, () => ({ problems: [], restored: false, now }));
  return { list, show, restored };
}

const box = (id: number, name: string): HTMLInputElement =>
  document.querySelector(`[data-ipyckpt='var-${id}-${name}']`)!;
const restoreButton = (id: number): HTMLButtonElement =>
  document.querySelector(`[data-ipyckpt='restore-${id}']`)!;

function tick(input: HTMLInputElement): void {
  input.checked = true;
  input.dispatchEvent(new Event('change', { bubbles: true }));
}

const flush = (): Promise<void> => new Promise(r => setTimeout(r, 0));

const after = (count: number, first_line: string, state = 'after') => ({
  cell: {
    key: `k:${count}`,
    count,
    first_line,
    cell_id: null,
    started: 0,
    state
  }
});

describe('GenerationList', () => {
  it('shows the timeline by cell and goes back to the state after a cell', async () => {
    const { show, restored } = setup();
    show([
      generation(4, after(12, 'model.fit(X, y)')),
      generation(3, after(9, 'for epoch in range(10):', 'during')),
      generation(2, after(5, 'X, y = load()')),
      generation(1)
    ]);
    const cells = Array.from(
      document.querySelectorAll('.jp-ipyckpt-generation')
    ).map(n => n.querySelector('.jp-ipyckpt-gen-cell')?.textContent ?? null);
    expect(cells).toEqual([
      '[12] model.fit(X, y)',
      'in [9] for epoch in range(10):',
      '[5] X, y = load()',
      null
    ]);
    expect(restoreButton(2).title).toMatch(
      /^Go back to the state right after cell \[5\] X, y = load\(\)/
    );
    restoreButton(2).click(); // after a cell: the whole state after it (--cell 5)
    restoreButton(3).click(); // during a cell: the generation, as it is
    restoreButton(1).click(); // no cell history: the generation
    tick(box(4, 'a')); // chosen variables: only them, nothing removed
    restoreButton(4).click();
    await flush();
    expect(restored).toEqual([
      [2, undefined, 5],
      [3, undefined, undefined],
      [1, undefined, undefined],
      [4, ['a'], undefined]
    ]);
  });

  it('keeps ticked variables across updates and restores only them', async () => {
    const { show, restored } = setup();
    show([generation(2), generation(1)]);
    tick(box(1, 'a'));
    tick(box(1, 'c'));
    expect(restoreButton(1).textContent).toBe('Restore 2 variables');
    // the timer and the kernel's pushes update with fresh objects for the same generations
    show([generation(2), generation(1)], NOW + 30);
    show([generation(3), generation(2), generation(1)], NOW + 31);
    expect(box(1, 'a').checked).toBe(true);
    expect(box(1, 'c').checked).toBe(true);
    restoreButton(1).click();
    await flush();
    expect(restored).toEqual([[1, ['a', 'c'], undefined]]);
    expect(box(1, 'a').checked).toBe(false);
    expect(restoreButton(1).textContent).toBe('Restore');
    restoreButton(2).click();
    await flush();
    expect(restored[1]).toEqual([2, undefined, undefined]);
  });

  it('keeps the nodes, adds, removes and orders generations newest first', () => {
    const { list, show } = setup();
    show([generation(2), generation(1)]);
    const second = document.querySelector("[data-generation='2']");
    show([generation(3), generation(2)]);
    const ids = Array.from(list.node.children).map(n =>
      n.getAttribute('data-generation')
    );
    expect(ids).toEqual(['3', '2']);
    expect(document.querySelector("[data-generation='2']")).toBe(second);
  });

  it('treats a re-used id with another time as another generation (store cleared)', () => {
    const { show } = setup();
    show([generation(1)]);
    tick(box(1, 'a'));
    show([generation(1, { time: NOW + 100 })]);
    expect(box(1, 'a').checked).toBe(false);
  });

  it('updates the age in place and shows friendly summaries', () => {
    const { show } = setup();
    show([generation(1)]);
    const time = document.querySelector('.jp-ipyckpt-gen-time')!;
    expect(time.textContent).toMatch(/1 min ago$/);
    show([generation(1)], NOW + 120);
    expect(time.textContent).toMatch(/3 min ago$/);
    const labels = Array.from(document.querySelectorAll('.jp-ipyckpt-var')).map(
      n => n.textContent
    );
    expect(labels).toEqual([
      'aint28 B',
      'blist[100000]900.3 KB',
      'cndarray float64 (1000,)8.0 KB'
    ]);
  });

  it('touches no node when nothing shown changed (a progress push)', async () => {
    const { list, show } = setup();
    show([generation(2), generation(1)]);
    const mutations: MutationRecord[] = [];
    const observer = new MutationObserver(records =>
      mutations.push(...records)
    );
    observer.observe(list.node, {
      subtree: true,
      childList: true,
      characterData: true
    });
    show([generation(2), generation(1)], NOW + 1); // ages read the same
    await flush();
    observer.disconnect();
    expect(mutations).toEqual([]);
  });
});
