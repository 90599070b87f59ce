/**
 * One notebook's state checkpoints in the UI: follows its kernel through starts, restarts and
 * deaths, loads ipyckpt silently in notebooks that use it, keeps the model current and shows
 * the restore notifications.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { listGenerations } from './api';
import { Channel, ChannelError } from './channel';
import {
  canRecompute,
  formatClock,
  losesUnsavedChanges,
  nextAgeChange,
  plural,
  recomputeMessage,
  restoreDetails,
  restoreMessage,
  restoreNotice
} from './format';
import { shouldNotify, StateModel } from './model';
import { IKernelStatus, IRestoreInfo, METADATA_KEY } from './protocol';

export interface IOptions {
  /** Whether restore notifications are wanted (setting). */
  notifications: () => boolean;
  /** Open the state checkpoints panel on this notebook. */
  showPanel: () => void;
}

/** Kernel tokens whose start was already told in this page (hello and announce both carry it). */
const notified = new Set<string>();

export class NotebookState implements IDisposable {
  readonly model = new StateModel();
  readonly channel: Channel;

  constructor(
    readonly panel: NotebookPanel,
    private readonly options: IOptions
  ) {
    this.channel = new Channel(this.model, {
      hello: status => this._onHello(status),
      problem: message => this._onProblem(message),
      event: event => this._onEvent(event)
    });
    const ctx = panel.sessionContext;
    ctx.kernelChanged.connect(this._onKernelChanged, this);
    ctx.statusChanged.connect(this._onStatus, this);
    panel.context.pathChanged.connect(() => void this.refresh(), this);
    void panel.context.ready.then(() => this.refresh());
    void ctx.ready.then(() => this._onKernelChanged());
    this.model.onChange(() => this._scheduleTick());
    this._scheduleTick();
  }

  get path(): string {
    return this.panel.context.path;
  }

  get name(): string {
    return this.panel.context.localPath.split('/').pop() ?? this.path;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    window.clearTimeout(this._timer);
    this.panel.sessionContext.kernelChanged.disconnect(
      this._onKernelChanged,
      this
    );
    this.panel.sessionContext.statusChanged.disconnect(this._onStatus, this);
  }

  /** Whether this notebook's metadata says it uses ipyckpt. */
  get used(): boolean {
    const meta = this.panel.model?.getMetadata(METADATA_KEY) as any;
    return Boolean(meta?.used);
  }

  /** Re-read the generations from the server (works with the kernel dead). */
  async refresh(): Promise<void> {
    const ticket = this.model.listingTicket();
    try {
      const listing = await listGenerations(this.path);
      this.model.setGenerations(listing.generations, ticket);
    } catch (error) {
      this.model.setListingError(String((error as Error).message ?? error));
    }
  }

  /** A channel to the kernel, loading ipyckpt in it first if needed. */
  async ensureChannel(): Promise<Channel> {
    if (this.channel.connected) {
      return this.channel;
    }
    const kernel = this.panel.sessionContext.session?.kernel;
    if (!kernel) {
      throw new Error('This notebook has no running kernel: start one first.');
    }
    this.channel.attach(kernel);
    await this._load(kernel);
    if (!this.channel.connected) {
      await this.channel.connect();
    }
    if (!this.channel.connected) {
      throw new Error(
        this.model.connectionProblem ??
          "ipyckpt could not be loaded in this notebook's kernel: is it installed in the kernel's environment?"
      );
    }
    return this.channel;
  }

  /** Save a state checkpoint of every variable now. */
  async save(): Promise<void> {
    const channel = await this.ensureChannel();
    const report = await channel.save();
    await this.refresh();
    const skipped = Object.keys(report.skipped);
    const text =
      `Saved state checkpoint ${report.generation}: ${plural(report.variables, 'variable')}` +
      (skipped.length
        ? ` (${skipped.length} skipped: ${skipped.join(', ')})`
        : '');
    this._toast('save', text);
  }

  /** A success toast that closes by itself and replaces its predecessor of the same `kind`. */
  private _toast(
    kind: string,
    message: string,
    actions: Notification.IAction[] = []
  ): void {
    const previous = this._toasts.get(kind);
    if (previous) {
      Notification.dismiss(previous);
    }
    // a toast offering Recompute waits for the user: it never re-runs a cell by itself
    const offers = actions.some(a => a.label === 'Recompute');
    this._toasts.set(
      kind,
      Notification.success(message, {
        autoClose: offers ? false : 8000,
        actions
      })
    );
  }

  private _toasts = new Map<string, string>();

  /** Re-render when the "ago" texts next change (each second while under a minute). */
  private _scheduleTick(): void {
    window.clearTimeout(this._timer);
    if (this._disposed) {
      return;
    }
    const newest = this.model.newest;
    const delay = newest ? nextAgeChange(Date.now() / 1000 - newest.time) : 60;
    this._timer = window.setTimeout(() => this.model.touch(), delay * 1000);
  }

  /**
   * Restore a generation (newest good one by default), or only some variables of it; with
   * `cell`, the state right after that cell (`%checkpoint restore --cell`).
   */
  async restore(
    generation?: number,
    names?: string[],
    cell?: number
  ): Promise<IRestoreInfo | null> {
    const channel = await this.ensureChannel();
    if (!(await this._keepUnsaved(channel, cell))) {
      return null;
    }
    try {
      return this._restored(await channel.restore({ generation, names, cell }));
    } catch (error) {
      if (
        error instanceof ChannelError &&
        error.code === 'CheckpointUntrusted'
      ) {
        const answer = await showDialog({
          title: 'Load an unsigned state checkpoint?',
          body:
            `${error.message}\n\nLoading a state checkpoint runs code from its pickle: ` +
            'load it only if you know where it came from.',
          buttons: [
            Dialog.cancelButton(),
            Dialog.warnButton({ label: 'Load anyway' })
          ]
        });
        if (!answer.button.accept) {
          return null;
        }
        return this._restored(
          await channel.restore({ generation, names, cell, trust: true })
        );
      }
      throw error;
    }
  }

  /**
   * Before going back to the state after `cell`: if cells changed the state since the last
   * snapshot, offer to save it first (so going back can be undone). False: the user cancelled.
   */
  private async _keepUnsaved(
    channel: Channel,
    cell: number | undefined
  ): Promise<boolean> {
    if (
      cell === undefined ||
      !losesUnsavedChanges(await channel.status(), cell)
    ) {
      return true;
    }
    const answer = await showDialog({
      title: `Go back to the state after cell [${cell}]?`,
      body:
        'Cells changed the state since the last state checkpoint: going back replaces ' +
        'those changes. Save them as a state checkpoint first, to come back to them later?',
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Go back without saving' }),
        Dialog.okButton({ label: 'Save, then go back' })
      ]
    });
    if (!answer.button.accept) {
      return false;
    }
    if (answer.button.displayType !== 'warn') {
      await this.save();
    }
    return true;
  }

  private _restored(restore: IRestoreInfo): IRestoreInfo {
    this._toast(
      'restore',
      restoreMessage(restore),
      this._restoreActions(restore)
    );
    return restore;
  }

  /** Details, and Recompute when the kernel can re-create what was not restored. */
  private _restoreActions(restore: IRestoreInfo): Notification.IAction[] {
    const actions: Notification.IAction[] = [
      { label: 'Details', callback: () => void showDetails(restore) }
    ];
    if (canRecompute(restore)) {
      actions.unshift({
        label: 'Recompute',
        caption: `Re-run ${restore.recompute!.cells.map(c => c.cell).join('; ')}`,
        displayType: 'accent',
        callback: () => void this.recompute(restore)
      });
    }
    return actions;
  }

  /**
   * Exactly `%checkpoint restore --recompute`: re-run, in order, the cells that made what
   * `restore` could not bring back, and say what each re-run re-created.
   */
  async recompute(restore: IRestoreInfo): Promise<void> {
    try {
      const channel = await this.ensureChannel();
      const report = await channel.recompute(restore.generation);
      const { text, ok } = recomputeMessage(report);
      const actions = [
        {
          label: 'Details',
          callback: () =>
            void showLines(
              'Recomputed',
              report.lines.length ? report.lines : [text]
            )
        }
      ];
      if (ok) {
        this._toast('recompute', text, actions);
      } else {
        Notification.warning(text, { autoClose: false, actions });
      }
    } catch (error) {
      Notification.error(
        `Could not recompute: ${(error as Error).message ?? error}`,
        { autoClose: false }
      );
    }
  }

  private _disposed = false;
  private _timer = 0;
  private _needsHandshake = true;
  private _restarting = false;
  private _restarted = false;

  private _onKernelChanged(): void {
    const kernel = this.panel.sessionContext.session?.kernel ?? null;
    this.channel.reset();
    this._needsHandshake = true;
    if (kernel) {
      this.channel.attach(kernel);
      if (kernel.status === 'idle') {
        void this._handshake();
      }
    }
  }

  private _onStatus(_: unknown, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting') {
      if (!this._restarting) {
        // JupyterLab reports a restart more than once: count it once
        this._restarting = true;
        this._restarted = true;
        this.channel.reset();
        this._needsHandshake = true;
      }
      return;
    }
    if (status === 'dead') {
      this.channel.reset();
      this._needsHandshake = true;
      void this.refresh();
      return;
    }
    if (status === 'idle' && this._needsHandshake) {
      this._restarting = false;
      void this._handshake();
    }
  }

  private async _handshake(): Promise<void> {
    this._needsHandshake = false;
    const kernel = this.panel.sessionContext.session?.kernel;
    if (!kernel) {
      return;
    }
    this.channel.attach(kernel);
    await this.panel.context.ready;
    if (this.used) {
      await this._load(kernel);
    }
    if (!this.channel.connected) {
      await this.channel.connect();
    }
    await this.refresh();
    this._offerRestore();
  }

  /** `%load_ext ipyckpt`, silently: no output, no history, no execution count. */
  private async _load(kernel: Kernel.IKernelConnection): Promise<void> {
    try {
      const future = kernel.requestExecute({
        code: '%load_ext ipyckpt',
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      });
      const reply = await future.done;
      if (reply.content.status === 'error') {
        console.warn(
          'ipyckpt: %load_ext ipyckpt failed in the kernel',
          reply.content
        );
      }
    } catch (error) {
      console.warn('ipyckpt: could not load ipyckpt in the kernel', error);
    }
  }

  private _onHello(status: IKernelStatus): void {
    if (!this.used && this.panel.model) {
      this.panel.model.setMetadata(METADATA_KEY, { used: true });
    }
    this._status = status;
    if (!this.options.notifications() || !shouldNotify(status, notified)) {
      return;
    }
    if (status.autorestore || status.restore_refused) {
      void this.channel.noticed().catch(() => undefined);
    }
    if (status.autorestore) {
      const restore = status.autorestore;
      const actions = this._restoreActions(restore);
      Notification.success(restoreNotice(restore, this._restarted), {
        autoClose: canRecompute(restore) ? false : 20_000,
        actions
      });
    } else if (status.restore_refused) {
      Notification.warning(
        `Kernel ${this._restarted ? 'restarted' : 'started'}: the state checkpoint was not restored`,
        {
          autoClose: false,
          actions: [
            {
              label: 'Restore state',
              callback: () => void this._restoreFromNotice()
            },
            {
              label: 'Details',
              callback: () =>
                void showDialog({
                  title: 'State checkpoint not restored',
                  body: status.restore_refused ?? '',
                  buttons: [Dialog.okButton()]
                })
            }
          ]
        }
      );
    }
  }

  private _status: IKernelStatus | null = null;

  /** Auto-restore is off and there is a checkpoint: offer it once per kernel. */
  private _offerRestore(): void {
    const status = this._status;
    const newest = this.model.newest;
    if (
      !status ||
      status.autorestore_enabled ||
      status.last_restore ||
      !newest ||
      !this.options.notifications() ||
      !status.fresh_kernel ||
      status.noticed ||
      this._offeredToken === status.token
    ) {
      return;
    }
    this._offeredToken = status.token;
    void this.channel.noticed().catch(() => undefined);
    Notification.info(
      `This notebook has a state checkpoint from ${formatClock(newest.time)} (automatic restore is off)`,
      {
        autoClose: false,
        actions: [
          {
            label: 'Restore state',
            callback: () => void this._restoreFromNotice()
          }
        ]
      }
    );
  }

  private _offeredToken: string | null = null;

  private async _restoreFromNotice(): Promise<void> {
    try {
      await this.restore();
    } catch (error) {
      Notification.error(
        `Could not restore the state checkpoint: ${(error as Error).message}`
      );
    }
  }

  private _onProblem(message: string): void {
    if (this._problemShown !== message) {
      this._problemShown = message;
      Notification.error(message, { autoClose: false });
    }
  }

  private _problemShown: string | null = null;

  private _onEvent(event: string): void {
    if (event === 'cleared') {
      this.model.setCleared();
    }
    if (event === 'saved' || event === 'restored' || event === 'cleared') {
      void this.refresh();
    }
  }
}

export function showDetails(restore: IRestoreInfo): Promise<void> {
  return showLines('State checkpoint restored', restoreDetails(restore));
}

/** A dialog with one paragraph per line. */
async function showLines(title: string, lines: string[]): Promise<void> {
  const body = document.createElement('div');
  body.className = 'jp-ipyckpt-details';
  for (const line of lines) {
    const p = document.createElement('p');
    p.textContent = line;
    body.appendChild(p);
  }
  await showDialog({
    title,
    body: new Widget({ node: body }),
    buttons: [Dialog.okButton()]
  });
}
