/**
 * The "State checkpoints" panel: the active notebook's generations, newest first, with Restore
 * (whole generation or chosen variables), Verify and Delete. Listing, verifying and deleting
 * go through the server, so they work with the kernel dead; restoring needs the kernel.
 *
 * The panel is built once per followed notebook and updated in place on every model change
 * (generation.ts), so what the user ticked survives the timer and the kernel's pushes.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { deleteGeneration, verifyStore } from './api';
import { button, el, setText } from './dom';
import { formatClock, plural } from './format';
import { GenerationList } from './generation';
import { NotebookState } from './notebook';
import { IGeneration, IVerifyResult } from './protocol';

const EMPTY_TEXT =
  'No state checkpoints yet. Run a cell with %%checkpoint, or press "Save now".';

export class StatePanel extends Widget {
  constructor() {
    super();
    this.id = 'ipyckpt-panel';
    this.addClass('jp-ipyckpt-panel');
    this.title.label = 'State';
    this.title.caption = 'State checkpoints of the active notebook';
    this.title.closable = true;
    this.follow(null);
  }

  /** Show another notebook's state checkpoints (or none). */
  follow(state: NotebookState | null): void {
    if (state === this._state && this.node.firstChild) {
      return;
    }
    this._stop?.();
    this._stop = null;
    this._state = state;
    this._verified = null;
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
    this._build(state);
    this._stop = state.model.onChange(() => this.render());
    void state.refresh();
    this.render();
  }

  /** Bring the built panel up to date with the model (in place). */
  render(): void {
    const state = this._state;
    if (!state) {
      return;
    }
    const model = state.model;
    setText(this._notebook, state.name);
    const view = model.view();
    setText(this._summary, view.text);
    this._summary.dataset.level = view.level;
    this._summary.title = view.title;
    this._showVerified();
    this._error.hidden = !model.listingError;
    setText(this._error, model.listingError ?? '');
    const generations = model.generations ?? [];
    this._empty.hidden = generations.length > 0;
    const restored = model.lastRestore?.generation;
    this._list.update(generations, g => ({
      problems: (this._verified?.problems ?? [])
        .filter(p => p.generation === g.id)
        .map(p => p.message),
      restored: g.id === restored
    }));
  }

  private _build(state: NotebookState): void {
    this._list = new GenerationList({
      restore: (generation, names, cell) =>
        this._run(() => state.restore(generation, names, cell)),
      remove: g => this._delete(state, g)
    });
    this.node.append(
      el(
        'div',
        { class: 'jp-ipyckpt-header' },
        el('h2', {}, 'State checkpoints'),
        this._notebook
      ),
      el(
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
      ),
      this._summary,
      this._verifyResult,
      this._error,
      this._empty,
      this._list.node
    );
  }

  private _showVerified(): void {
    const v = this._verified;
    this._verifyResult.hidden = !v;
    if (!v) {
      return;
    }
    this._verifyResult.className = `jp-ipyckpt-verify jp-ipyckpt-${v.ok ? 'ok' : 'error'}`;
    setText(
      this._verifyResult,
      v.ok
        ? `Verified: ${plural(v.generations, 'generation')}, ${plural(v.blobs, 'blob')}, all good`
        : `Verify found ${plural(v.problems.length, 'problem')}: ` +
            v.problems.map(p => p.message).join('; ')
    );
  }

  /** Run a user action; show its error as a notification. Resolves to whether it succeeded. */
  private async _run(action: () => Promise<unknown>): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (error) {
      Notification.error(String((error as Error).message ?? error), {
        autoClose: 10_000
      });
      return false;
    }
  }

  private async _verify(state: NotebookState): Promise<void> {
    await this._run(async () => {
      this._verified = await verifyStore(state.path);
      this.render();
    });
  }

  private async _delete(
    state: NotebookState,
    g: IGeneration
  ): Promise<boolean> {
    const answer = await showDialog({
      title: `Delete state checkpoint ${g.id}?`,
      body: `Taken ${g.time ? formatClock(g.time) : '?'} (${g.trigger}); this cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return false;
    }
    return this._run(async () => {
      await deleteGeneration(state.path, g.id);
      await state.refresh();
    });
  }

  private _state: NotebookState | null = null;
  private _stop: (() => void) | null = null;
  private _verified: IVerifyResult | null = null;
  private _list = new GenerationList({
    restore: async () => false,
    remove: async () => false
  });
  private readonly _notebook = el('div', { class: 'jp-ipyckpt-notebook' });
  private readonly _summary = el('div', { class: 'jp-ipyckpt-summary' });
  private readonly _verifyResult = el('div', {
    class: 'jp-ipyckpt-verify',
    'data-ipyckpt': 'verify-result'
  });
  private readonly _error = el('div', { class: 'jp-ipyckpt-error' });
  private readonly _empty = el('p', { class: 'jp-ipyckpt-empty' }, EMPTY_TEXT);
}
