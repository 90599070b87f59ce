/**
 * The messages of the `ipyckpt` comm (see ipyckpt/kernel/comm.py) and of the REST handlers
 * (ipyckpt/server/handlers.py). Field names follow the Python side.
 */

export { COMM_TARGET, PROTOCOL_VERSION } from './protocolVersion';

/** The notebook metadata key that records that a notebook uses ipyckpt. */
export const METADATA_KEY = 'ipyckpt';

export interface ISaveInfo {
  generation: number;
  trigger: string;
  time: number;
  variables: number;
  saved: string[];
  skipped: { [name: string]: string };
  bytes_total: number;
  bytes_written: number;
  seconds: number;
}

export interface IRestoreInfo {
  generation: number;
  created: number;
  trigger: string;
  restored: string[];
  conflicts: string[];
  failed: { [name: string]: string };
  skipped: { [name: string]: string };
  notes: string[];
  auto: boolean;
  summary: string;
  /** Variables removed because they were made after the restored cell (time travel). */
  removed: string[];
  /** Every variable of the checkpoint that is not back (name -> why). */
  missing: { [name: string]: string };
  /** Not restored name -> the cell that made it, "[3] conn = sqlite3.connect(path)". */
  made_by: { [name: string]: string };
  /** What the Recompute button would re-run, as of the kernel's last status; null: nothing. */
  recompute: IRecomputeOffer | null;
}

/** One cell `%checkpoint restore --recompute` would re-run. */
export interface IRecomputeStep {
  count: number;
  /** "[3] conn = sqlite3.connect(path)" */
  cell: string;
  /** The missing variables it makes. */
  makes: string[];
  /** Import statements run before it. */
  imports: string[];
}

export interface IRecomputeOffer {
  cells: IRecomputeStep[];
  /** Why no cell may be re-run (a cell reads a variable that is missing too). */
  refusals: string[];
  /** Missing variables no recorded cell made. */
  unknown: string[];
}

/** One re-run cell of a recompute: what it re-created, or how it failed. */
export interface IRerun {
  count: number;
  cell: string;
  imports: string[];
  made: string[];
  error: string | null;
}

/** The reply to `recompute`: exactly what `%checkpoint restore --recompute` printed. */
export interface IRecomputeReport {
  reruns: IRerun[];
  unknown: string[];
  nothing_missing: boolean;
  lines: string[];
}

/** The cell a generation follows (`state` "after") or interrupts ("during"). */
export interface ISnapshotCell {
  key: string;
  count: number;
  first_line: string;
  cell_id: string | null;
  started: number;
  state: string;
}

export interface ISaving {
  trigger: string;
  estimate: number;
  done: number;
}

export interface IKernelStatus {
  protocol: number;
  ipyckpt: string;
  token: string;
  store: string | null;
  autorestore_enabled: boolean;
  autorestore: IRestoreInfo | null;
  restore_refused: string | null;
  last_save: ISaveInfo | null;
  saving: ISaving | null;
  last_error: string | null;
  last_restore: IRestoreInfo | null;
  /** The restore (or refusal) above happened as this kernel process started. */
  fresh_kernel: boolean;
  /** A frontend already told the user about it: nobody tells it again. */
  noticed: boolean;
  /** Autosave and when the session was last protected (ipyckpt.kernel.timetravel). */
  protection?: {
    autosave: string;
    last_protected: number | null;
    unsaved_changes: boolean;
  };
}

/** One generation as listed by the server (ipyckpt.store.reports.GenerationInfo). */
export interface IGeneration {
  id: number;
  time: number;
  trigger: string;
  variables: { [name: string]: string };
  bytes: number;
  duration: number;
  skipped: { [name: string]: string };
  error: string | null;
  problem: string | null;
  sizes: { [name: string]: number };
  /** What a variable inspector shows ("list[100000]"), recorded at save time. */
  summaries?: { [name: string]: string };
  /** The cell it follows or interrupts (the timeline); null for snapshots without one. */
  cell?: ISnapshotCell | null;
}

export interface IGenerationList {
  store: string;
  version: string;
  generations: IGeneration[];
}

export interface IVerifyResult {
  ok: boolean;
  generations: number;
  blobs: number;
  problems: { generation: number | null; message: string }[];
  text: string;
}

/** A reply to a request sent over the comm. */
export interface IReply {
  type: 'reply';
  id: string;
  ok: boolean;
  result?: any;
  error?: string;
  code?: string;
}
