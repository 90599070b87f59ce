/**
 * The panel's list of generations (the timeline: each with the cell it follows, like
 * `%checkpoint list`), kept across updates: each generation's DOM is built once and
 * only its changing parts (age, integrity, "restored" mark) are updated, so the variables the
 * user ticked, an open "Variables" list and the focus survive every model change (the ticking
 * age, progress pushes, new listings). No JupyterLab imports: jest tests it in jsdom.
 */
import { button, el, setText } from './dom';
import {
  cellLabel,
  formatAge,
  formatBytes,
  formatClock,
  formatDuration,
  integrity,
  plural,
  variableSummary
} from './format';
import { IGeneration } from './protocol';

/**
 * What the buttons of a generation do; each resolves to whether it succeeded. `restore` gets
 * `cell` when the whole state right after that cell is wanted (`%checkpoint restore --cell`).
 */
export interface IGenerationActions {
  restore: (
    generation: number,
    names?: string[],
    cell?: number
  ) => Promise<boolean>;
  remove: (g: IGeneration) => Promise<boolean>;
}

/** What changes about a listed generation without it being another generation. */
export interface IGenerationState {
  /** Problems `verify` found in it. */
  problems: string[];
  /** Whether it is the one last restored into the kernel. */
  restored: boolean;
  now?: number;
}

/** One generation: head, facts, skipped variables, the variables to choose from, actions. */
export class GenerationView {
  readonly node: HTMLLIElement;

  constructor(
    readonly generation: IGeneration,
    private readonly actions: IGenerationActions
  ) {
    const g = generation;
    this.node = el('li', {
      class: 'jp-ipyckpt-generation',
      'data-generation': String(g.id)
    });
    this._restore = button(
      'Restore',
      `restore-${g.id}`,
      () => void this._onRestore(),
      'accept'
    );
    const cell = cellLabel(g.cell);
    this._restore.title =
      g.cell?.state === 'after'
        ? `Go back to the state right after cell ${cell}: its variables come back, ` +
          'variables made later are removed, newer state checkpoints stay (or restore only ' +
          'the variables chosen)'
        : 'Restore every variable of this state checkpoint (or the ones chosen)';
    this.node.append(
      ...(cell
        ? [
            el(
              'div',
              {
                class: 'jp-ipyckpt-gen-cell',
                'data-ipyckpt': `cell-${g.id}`,
                title:
                  g.cell?.state === 'after'
                    ? `The state right after cell ${cell} ran`
                    : `Taken while cell ${cell.slice(3)} was running`
              },
              cell
            )
          ]
        : []),
      this._head(),
      el(
        'div',
        { class: 'jp-ipyckpt-gen-facts' },
        `${formatBytes(g.bytes)} · ${formatDuration(g.duration)} · ` +
          plural(Object.keys(g.variables).length, 'variable')
      ),
      ...this._skipped(),
      ...this._variables(),
      el(
        'div',
        { class: 'jp-ipyckpt-gen-actions' },
        this._restore,
        button('Delete', `delete-${g.id}`, () => void this.actions.remove(g))
      )
    );
  }

  /** The variables ticked for a partial restore, sorted. */
  get selection(): string[] {
    return Array.from(this._chosen).sort();
  }

  /** Show what changed: the age, verify's verdict, the "restored" mark. */
  update(state: IGenerationState): void {
    const g = this.generation;
    setText(
      this._time,
      g.time
        ? `${formatClock(g.time, state.now)} · ${formatAge(g.time, state.now)}`
        : 'unknown time'
    );
    const check = integrity(g);
    const damaged = state.problems.length > 0;
    this._integrity.className = `jp-ipyckpt-integrity jp-ipyckpt-${damaged ? 'error' : check.level}`;
    this._integrity.title = state.problems.join('\n') || check.detail;
    setText(this._integrity, damaged ? 'damaged' : check.label);
    this._restoredMark.hidden = !state.restored;
  }

  /** Untick every variable. */
  clearSelection(): void {
    for (const box of this._boxes) {
      box.checked = false;
    }
    this._chosen.clear();
    this._updateLabel();
  }

  private _head(): HTMLElement {
    const g = this.generation;
    this._time.title = new Date(g.time * 1000).toString();
    this._restoredMark.hidden = true;
    this._restoredMark.title =
      'The state checkpoint last restored into this kernel';
    return el(
      'div',
      { class: 'jp-ipyckpt-gen-head' },
      el('span', { class: 'jp-ipyckpt-gen-id' }, `#${g.id}`),
      this._time,
      el('span', { class: 'jp-ipyckpt-trigger' }, g.trigger),
      this._integrity,
      this._restoredMark
    );
  }

  private _skipped(): HTMLElement[] {
    const g = this.generation;
    const names = Object.keys(g.skipped).sort();
    if (!names.length) {
      return [];
    }
    const list = el('ul', { class: 'jp-ipyckpt-skipped' });
    for (const name of names) {
      list.append(el('li', {}, el('code', {}, name), `: ${g.skipped[name]}`));
    }
    return [
      el(
        'div',
        { class: 'jp-ipyckpt-skipped-title' },
        `Skipped ${names.length}:`
      ),
      list
    ];
  }

  private _variables(): HTMLElement[] {
    const g = this.generation;
    const names = Object.keys(g.variables).sort();
    if (!names.length) {
      return [];
    }
    const details = el(
      'details',
      { class: 'jp-ipyckpt-vars' },
      el('summary', {}, 'Variables')
    );
    for (const name of names) {
      details.append(this._variable(name));
    }
    return [details];
  }

  private _variable(name: string): HTMLElement {
    const g = this.generation;
    const box = el('input', {
      type: 'checkbox',
      'data-ipyckpt': `var-${g.id}-${name}`
    });
    box.addEventListener('change', () => {
      if (box.checked) {
        this._chosen.add(name);
      } else {
        this._chosen.delete(name);
      }
      this._updateLabel();
    });
    this._boxes.push(box);
    const size = g.sizes?.[name];
    return el(
      'label',
      { class: 'jp-ipyckpt-var', title: g.variables[name] },
      box,
      el('code', {}, name),
      el(
        'span',
        { class: 'jp-ipyckpt-var-summary' },
        variableSummary(g.variables[name], g.summaries?.[name])
      ),
      size !== undefined
        ? el('span', { class: 'jp-ipyckpt-var-size' }, formatBytes(size))
        : ''
    );
  }

  private _updateLabel(): void {
    setText(
      this._restore,
      this._chosen.size
        ? `Restore ${plural(this._chosen.size, 'variable')}`
        : 'Restore'
    );
  }

  private async _onRestore(): Promise<void> {
    const names = this._chosen.size ? this.selection : undefined;
    const cell = this.generation.cell;
    const after = !names && cell?.state === 'after' ? cell.count : undefined;
    if (await this.actions.restore(this.generation.id, names, after)) {
      this.clearSelection();
    }
  }

  private readonly _time = el('span', { class: 'jp-ipyckpt-gen-time' });
  private readonly _integrity = el('span', { class: 'jp-ipyckpt-integrity' });
  private readonly _restoredMark = el(
    'span',
    { class: 'jp-ipyckpt-restored', 'data-ipyckpt': 'restored-mark' },
    'restored'
  );
  private readonly _restore: HTMLButtonElement;
  private readonly _boxes: HTMLInputElement[] = [];
  private readonly _chosen = new Set<string>();
}

/** The same generation when listed again (ids restart after a store is cleared). */
function key(g: IGeneration): string {
  return `${g.id}@${g.time}`;
}

/** The generations, newest first: views are kept for the generations still listed. */
export class GenerationList {
  readonly node = el('ol', { class: 'jp-ipyckpt-generations' });

  constructor(private readonly actions: IGenerationActions) {}

  /** Show `generations`: keep, add, remove and reorder views; update what changes. */
  update(
    generations: IGeneration[],
    stateOf: (g: IGeneration) => IGenerationState
  ): void {
    const wanted = new Set(generations.map(key));
    for (const [k, view] of this._views) {
      if (!wanted.has(k)) {
        view.node.remove();
        this._views.delete(k);
      }
    }
    let previous: Element | null = null;
    for (const g of generations) {
      let view = this._views.get(key(g));
      if (!view) {
        view = new GenerationView(g, this.actions);
        this._views.set(key(g), view);
      }
      view.update(stateOf(g));
      const expected: ChildNode | null = previous
        ? previous.nextSibling
        : this.node.firstChild;
      if (expected !== view.node) {
        this.node.insertBefore(view.node, expected);
      }
      previous = view.node;
    }
  }

  private readonly _views = new Map<string, GenerationView>();
}
