/**
 * What the UI knows about one notebook's state checkpoints: the server's listing, the kernel's
 * pushed status and a save in progress. No JupyterLab imports, so jest tests it directly.
 */
import { formatAge, formatBytes, formatClock, plural } from './format';
import {
  IGeneration,
  IKernelStatus,
  IRestoreInfo,
  ISaveInfo,
  ISaving
} from './protocol';

export type Level = 'ok' | 'warning' | 'busy' | 'none' | 'error';

export interface IStatusView {
  text: string;
  level: Level;
  title: string;
}

/** The newest saved state, from the listing or from the kernel, whichever is newer. */
export interface INewest {
  id: number;
  time: number;
  trigger: string;
  bytes: number;
  variables: number;
  skipped: { [name: string]: string };
  problem: string | null;
}

/**
 * Whether to tell the user what the kernel restored (or refused to) at its start: only for a
 * real kernel start (not a later `%load_ext`), once (not again after a page reload: the kernel
 * remembers it was `noticed`), and once per page for the two hellos of one start (`told`
 * collects the kernel tokens already told).
 */
export function shouldNotify(
  status: IKernelStatus,
  told: Set<string>
): boolean {
  if (!status.fresh_kernel || status.noticed || told.has(status.token)) {
    return false;
  }
  told.add(status.token);
  return true;
}

/** Which listing request an answer belongs to (see `StateModel.listingTicket`). */
export interface IListingTicket {
  request: number;
  saves: number;
}

export class StateModel {
  /** The server's listing, newest first; null until fetched. */
  generations: IGeneration[] | null = null;
  /** Why the listing could not be fetched. */
  listingError: string | null = null;
  /** The kernel's last status; null when the kernel has no ipyckpt channel. */
  kernel: IKernelStatus | null = null;
  /** A one-line message when frontend and kernel cannot talk (version mismatch). */
  connectionProblem: string | null = null;

  private _listeners = new Set<() => void>();
  /** Counts the kernel's saves and clears this frontend heard of. */
  private _saves = 0;
  /** `_saves` when the listing shown was requested, and which request that was. */
  private _listedSaves = -1;
  private _requests = 0;
  private _applied = 0;

  /** Call `fn` after every change; returns a function that stops calling it. */
  onChange(fn: () => void): () => void {
    this._listeners.add(fn);
    return () => this._listeners.delete(fn);
  }

  protected changed(): void {
    for (const fn of Array.from(this._listeners)) {
      fn();
    }
  }

  /** Re-render (ages in the text change with time). */
  touch(): void {
    this.changed();
  }

  /**
   * Note that a listing is being fetched now: pass the ticket to `setGenerations`, so that a
   * listing requested after a save (or a delete) wins over the kernel's last save, and an
   * older answer arriving late is dropped.
   */
  listingTicket(): IListingTicket {
    this._requests += 1;
    return { request: this._requests, saves: this._saves };
  }

  setGenerations(
    generations: IGeneration[],
    ticket: IListingTicket = this.listingTicket()
  ): void {
    if (ticket.request < this._applied) {
      return;
    }
    this._applied = ticket.request;
    this._listedSaves = ticket.saves;
    this.generations = generations;
    this.listingError = null;
    this.changed();
  }

  /** The kernel deleted the store (`%checkpoint clear`): nothing is listed any more. */
  setCleared(): void {
    this._saves += 1;
    this.setGenerations([]);
  }

  setListingError(message: string): void {
    this.listingError = message;
    this.changed();
  }

  setKernelStatus(status: IKernelStatus | null): void {
    const before = this.kernel?.last_save;
    const after = status?.last_save;
    if (
      after &&
      (after.generation !== before?.generation || after.time !== before?.time)
    ) {
      this._saves += 1;
    }
    this.kernel = status;
    if (status) {
      this.connectionProblem = null;
    }
    this.changed();
  }

  setConnectionProblem(message: string | null): void {
    this.connectionProblem = message;
    this.changed();
  }

  /** A progress push: bytes written so far by the running snapshot. */
  setProgress(saving: ISaving): void {
    if (this.kernel) {
      this.kernel = { ...this.kernel, saving };
      this.changed();
    }
  }

  get saving(): ISaving | null {
    return this.kernel?.saving ?? null;
  }

  get lastRestore(): IRestoreInfo | null {
    return this.kernel?.last_restore ?? this.kernel?.autorestore ?? null;
  }

  get newest(): INewest | null {
    const listed = this.generations?.[0];
    const saved: ISaveInfo | null = this.kernel?.last_save ?? null;
    const listingIsOlder = this._listedSaves < this._saves;
    if (saved && listingIsOlder && (!listed || saved.generation > listed.id)) {
      return {
        id: saved.generation,
        time: saved.time,
        trigger: saved.trigger,
        bytes: saved.bytes_total,
        variables: saved.variables,
        skipped: saved.skipped,
        problem: null
      };
    }
    if (!listed) {
      return null;
    }
    return {
      id: listed.id,
      time: listed.time,
      trigger: listed.trigger,
      bytes: listed.bytes,
      variables: Object.keys(listed.variables).length,
      skipped: listed.skipped,
      problem: listed.problem
    };
  }

  /** The status bar item's text, level and tooltip. */
  view(now: number = Date.now() / 1000): IStatusView {
    if (this.connectionProblem) {
      return {
        text: 'State: version mismatch',
        level: 'error',
        title: this.connectionProblem
      };
    }
    const saving = this.saving;
    if (saving) {
      const text =
        saving.estimate > 0
          ? `${Math.min(99, Math.floor((100 * saving.done) / saving.estimate))} %`
          : formatBytes(saving.done);
      return {
        text: `State: saving… ${text}`,
        level: 'busy',
        title: `Saving a state checkpoint (${saving.trigger})`
      };
    }
    const error = this.kernel?.last_error;
    if (error) {
      return {
        text: 'State: save failed',
        level: 'warning',
        title: `The last state checkpoint failed (the previous one is intact): ${error}`
      };
    }
    const newest = this.newest;
    if (!newest) {
      return {
        text: 'State: none',
        level: 'none',
        title: this._details(now, [
          'No state checkpoint of this notebook yet: run a %%checkpoint cell'
        ])
      };
    }
    const text =
      `State: saved ${formatAge(newest.time, now)} · ${formatBytes(newest.bytes)} · ` +
      `${newest.variables} vars`;
    const skipped = Object.keys(newest.skipped).sort();
    const facts = [
      `State checkpoint ${newest.id} (${newest.trigger}), saved ${formatClock(newest.time, now)} ` +
        `(${formatAge(newest.time, now)}): ${plural(newest.variables, 'variable')}, ` +
        formatBytes(newest.bytes)
    ];
    if (newest.problem) {
      return {
        text,
        level: 'warning',
        title: this._details(now, [newest.problem, ...facts])
      };
    }
    if (skipped.length) {
      facts.push(
        `${plural(skipped.length, 'variable')} not saved: ` +
          skipped.map(n => `${n} (${newest.skipped[n]})`).join('; ')
      );
    }
    return {
      text,
      level: skipped.length ? 'warning' : 'ok',
      title: this._details(now, facts)
    };
  }

  /** The status bar tooltip: `lines`, then the last restore, the store and what a click does. */
  private _details(now: number, lines: string[]): string {
    const out = [...lines];
    const restore = this.lastRestore;
    if (restore) {
      out.push(
        `Restored into this kernel: ${plural(restore.restored.length, 'variable')} from ` +
          `state checkpoint ${restore.generation} (${formatClock(restore.created, now)})`
      );
    }
    if (this.kernel?.store) {
      out.push(`Store: ${this.kernel.store}`);
    }
    out.push('Click to show the state checkpoints');
    return out.join('\n');
  }
}
