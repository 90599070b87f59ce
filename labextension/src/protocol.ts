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
