/**
 * The "State checkpoints" panel: the active notebook's generations, newest first, with Restore
 * (whole generation or chosen variables), Verify and Delete. Listing, verifying and deleting
 * go through the server, so they work with the kernel dead; restoring needs the kernel.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { deleteGeneration, verifyStore } from './api';
import {
  formatAge,
  formatBytes,
  formatClock,
  formatDuration,
  integrity,
  plural
} from './format';
import { NotebookState } from './notebook';
import { IGeneration, IVerifyResult } from './protocol';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: { [key: string]: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') {
      node.className = value;
    } else {
      node.setAttribute(key, value);
    }
  }
  for (const child of children) {
    node.append(child);
  }
  return node;
}

function button(
  label: string,
  id: string,
  onClick: () => void,
  kind: 'accept' | 'warn' | 'plain' = 'plain'
): HTMLButtonElement {
  const b = el('button', {
    class: `jp-Button jp-mod-styled jp-ipyckpt-button${kind === 'plain' ? ' jp-mod-reject' : ` jp-mod-${kind}`}`,
    'data-ipyckpt': id
  });
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

export class StatePanel extends Widget {
  constructor() {
    super();
    this.id = 'ipyckpt-panel';
    this.addClass('jp-ipyckpt-panel');
    this.title.label = 'State';
    this.title.caption = 'State checkpoints of the active notebook';
    this.title.closable = true;
    this.render();
  }

  follow(state: NotebookState | null): void {
    if (state === this._state) {
      return;
    }
    this._stop?.();
    this._stop = null;
    this._state = state;
    this._verified = null;
    if (state) {
      this._stop = state.model.onChange(() => this.render());
      void state.refresh();
    }
    this.render();
  }

  render(): void {
    const state = this._state;
    this.node.replaceChildren();
    if (!state) {
      this.node.append(
        el(
          'p',
          { class: 'jp-ipyckpt-empty' },
          'Open a notebook to see its state checkpoints.'
        )
      );
      return;
    }
    const model = state.model;
    const header = el(
      'div',
      { class: 'jp-ipyckpt-header' },
      el('h2', {}, 'State checkpoints'),
      el('div', { class: 'jp-ipyckpt-notebook' }, state.name)
    );
    const actions = el(
      'div',
      { class: 'jp-ipyckpt-toolbar' },
      button(
        'Save now',
        'save',
        () => void this._run(() => state.save()),
        'accept'
      ),
      button('Verify', 'verify', () => void this._verify(state)),
      button('Refresh', 'refresh', () => void state.refresh())
    );
    this.node.append(header, actions);
    const view = model.view();
    this.node.append(
      el(
        'div',
        { class: 'jp-ipyckpt-summary', 'data-level': view.level },
        view.text
      )
    );
    if (this._verified) {
      const v = this._verified;
      this.node.append(
        el(
          'div',
          {
            class: `jp-ipyckpt-verify jp-ipyckpt-${v.ok ? 'ok' : 'error'}`,
            'data-ipyckpt': 'verify-result'
          },
          v.ok
            ? `Verified: ${plural(v.generations, 'generation')}, ${plural(v.blobs, 'blob')}, all good`
            : `Verify found ${plural(v.problems.length, 'problem')}: ` +
                v.problems.map(p => p.message).join('; ')
        )
      );
    }
    if (model.listingError) {
      this.node.append(
        el('div', { class: 'jp-ipyckpt-error' }, model.listingError)
      );
    }
    const generations = model.generations ?? [];
    if (!generations.length) {
      this.node.append(
        el(
          'p',
          { class: 'jp-ipyckpt-empty' },
          'No state checkpoints yet. Run a cell with %%checkpoint, or press "Save now".'
        )
      );
      return;
    }
    const list = el('ol', { class: 'jp-ipyckpt-generations' });
    for (const g of generations) {
      list.append(this._renderGeneration(state, g));
    }
    this.node.append(list);
  }

  private _renderGeneration(state: NotebookState, g: IGeneration): HTMLElement {
    const check = integrity(g);
    const problems = (this._verified?.problems ?? []).filter(
      p => p.generation === g.id
    );
    const names = Object.keys(g.variables).sort();
    const item = el('li', {
      class: 'jp-ipyckpt-generation',
      'data-generation': String(g.id)
    });
    item.append(
      el(
        'div',
        { class: 'jp-ipyckpt-gen-head' },
        el('span', { class: 'jp-ipyckpt-gen-id' }, `#${g.id}`),
        el(
          'span',
          {
            class: 'jp-ipyckpt-gen-time',
            title: new Date(g.time * 1000).toString()
          },
          g.time
            ? `${formatClock(g.time)} · ${formatAge(g.time)}`
            : 'unknown time'
        ),
        el('span', { class: 'jp-ipyckpt-trigger' }, g.trigger),
        el(
          'span',
          {
            class: `jp-ipyckpt-integrity jp-ipyckpt-${problems.length ? 'error' : check.level}`,
            title: problems.map(p => p.message).join('\n') || check.detail
          },
          problems.length ? 'damaged' : check.label
        )
      ),
      el(
        'div',
        { class: 'jp-ipyckpt-gen-facts' },
        `${formatBytes(g.bytes)} · ${formatDuration(g.duration)} · ${plural(names.length, 'variable')}`
      )
    );
    const skipped = Object.keys(g.skipped).sort();
    if (skipped.length) {
      const ul = el('ul', { class: 'jp-ipyckpt-skipped' });
      for (const name of skipped) {
        ul.append(el('li', {}, el('code', {}, name), `: ${g.skipped[name]}`));
      }
      item.append(
        el(
          'div',
          { class: 'jp-ipyckpt-skipped-title' },
          `Skipped ${skipped.length}:`
        ),
        ul
      );
    }
    const chosen = new Set<string>();
    if (names.length) {
      const details = el('details', { class: 'jp-ipyckpt-vars' });
      details.append(el('summary', {}, 'Variables'));
      for (const name of names) {
        const box = el('input', {
          type: 'checkbox',
          'data-ipyckpt': `var-${g.id}-${name}`
        });
        box.addEventListener('change', () => {
          if (box.checked) {
            chosen.add(name);
          } else {
            chosen.delete(name);
          }
        });
        const size = g.sizes?.[name];
        details.append(
          el(
            'label',
            { class: 'jp-ipyckpt-var' },
            box,
            el('code', {}, name),
            ` ${g.variables[name]}${size !== undefined ? ` · ${formatBytes(size)}` : ''}`
          )
        );
      }
      item.append(details);
    }
    const restore = button(
      'Restore',
      `restore-${g.id}`,
      () =>
        void this._run(() =>
          state.restore(g.id, chosen.size ? Array.from(chosen) : undefined)
        ),
      'accept'
    );
    restore.title =
      'Restore every variable of this state checkpoint (or the ones chosen)';
    const updateLabel = (): void => {
      restore.textContent = chosen.size
        ? `Restore ${plural(chosen.size, 'variable')}`
        : 'Restore';
    };
    item.addEventListener('change', updateLabel);
    item.append(
      el(
        'div',
        { class: 'jp-ipyckpt-gen-actions' },
        restore,
        button('Delete', `delete-${g.id}`, () => void this._delete(state, g))
      )
    );
    return item;
  }

  private async _run(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (error) {
      Notification.error(String((error as Error).message ?? error), {
        autoClose: 10_000
      });
    }
  }

  private async _verify(state: NotebookState): Promise<void> {
    await this._run(async () => {
      this._verified = await verifyStore(state.path);
      this.render();
    });
  }

  private async _delete(state: NotebookState, g: IGeneration): Promise<void> {
    const answer = await showDialog({
      title: `Delete state checkpoint ${g.id}?`,
      body: `Taken ${g.time ? formatClock(g.time) : '?'} (${g.trigger}); this cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return;
    }
    await this._run(async () => {
      await deleteGeneration(state.path, g.id);
      await state.refresh();
    });
  }

  private _state: NotebookState | null = null;
  private _stop: (() => void) | null = null;
  private _verified: IVerifyResult | null = null;
}
