import { IKernelStatus, PROTOCOL_VERSION } from '../src/protocol';

/** A kernel status as the kernel sends it, with `extra` fields replaced. */
export function kernelStatus(
  extra: Partial<IKernelStatus> = {}
): IKernelStatus {
  return {
    protocol: PROTOCOL_VERSION,
    ipyckpt: '0.1.0',
    token: 'tok',
    store: '/s',
    autorestore_enabled: true,
    autorestore: null,
    restore_refused: null,
    last_save: null,
    saving: null,
    last_error: null,
    last_restore: null,
    fresh_kernel: true,
    noticed: false,
    ...extra
  };
}
