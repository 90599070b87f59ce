/**
 * The messages of the `ipyckpt` comm (see ipyckpt/kernelcomm.py) and of the REST handlers
 * (ipyckpt/server/handlers.py). Field names follow the Python side.
 */

/** Must equal ipyckpt.kernelcomm.PROTOCOL_VERSION. */
export const PROTOCOL_VERSION = 1;

/** The comm target registered by `%load_ext ipyckpt`. */
export const COMM_TARGET = 'ipyckpt';

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
}

/** One generation as listed by the server (ipyckpt.reports.GenerationInfo). */
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
