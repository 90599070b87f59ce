/** The status bar item: "State: saved 3 min ago · 1.2 GB · 14 vars" for the active notebook. */
import { Widget } from '@lumino/widgets';

import { NotebookState } from './notebook';

export class StateStatus extends Widget {
  constructor(private readonly onClick: () => void) {
    super();
    this.addClass('jp-ipyckpt-status');
    this.node.setAttribute('role', 'button');
    this.node.dataset.ipyckpt = 'status';
    this.node.addEventListener('click', () => this.onClick());
    this.render();
  }

  /** Follow another notebook (or none). */
  follow(state: NotebookState | null): void {
    this._stop?.();
    this._stop = null;
    this._state = state;
    if (state) {
      this._stop = state.model.onChange(() => this.render());
    }
    this.render();
  }

  render(): void {
    const state = this._state;
    if (!state) {
      this.node.textContent = '';
      this.node.title = '';
      return;
    }
    const view = state.model.view();
    this.node.textContent = view.text;
    this.node.title = view.title;
    this.node.dataset.level = view.level;
  }

  private _state: NotebookState | null = null;
  private _stop: (() => void) | null = null;
}
