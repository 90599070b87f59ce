/**
 * The frontend end of the `ipyckpt` comm: one per notebook kernel, re-opened after every kernel
 * (re)start. Requests return promises; pushes update the model.
 */
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { StateModel } from './model';
import {
  COMM_TARGET,
  IKernelStatus,
  IRecomputeReport,
  IReply,
  IRestoreInfo,
  ISaveInfo,
  PROTOCOL_VERSION
} from './protocol';

export class ChannelError extends Error {
  constructor(
    message: string,
    readonly code?: string
  ) {
    super(message);
  }
}

interface IPending {
  resolve: (value: any) => void;
  reject: (reason: Error) => void;
}

export interface IChannelHandlers {
  /** The kernel said hello (after a (re)start, a load, or a reconnect). */
  hello: (status: IKernelStatus) => void;
  /** The two ends cannot talk (protocol version mismatch): one clear message. */
  problem: (message: string) => void;
  /** The kernel pushed a status event: saving, saved, save_failed, restored, cleared. */
  event: (event: string, status: IKernelStatus) => void;
}

export class Channel {
  constructor(
    private readonly model: StateModel,
    private readonly handlers: IChannelHandlers
  ) {}

  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
  private _pending = new Map<string, IPending>();
  private _counter = 0;

  get connected(): boolean {
    return this._comm !== null && !this._comm.isDisposed;
  }

  /** Listen for comms the kernel opens (a `%load_ext ipyckpt` run by hand). */
  attach(kernel: Kernel.IKernelConnection): void {
    if (this._kernel !== kernel) {
      this.reset();
      this._kernel = kernel;
    }
    kernel.registerCommTarget(COMM_TARGET, (comm, msg) =>
      this._adopt(comm, msg.content.data as any, true)
    );
  }

  /** Forget the comm (kernel restarted, died or changed). */
  reset(): void {
    this._comm = null;
    for (const pending of this._pending.values()) {
      pending.reject(new ChannelError('the kernel restarted', 'restart'));
    }
    this._pending.clear();
    this.model.setKernelStatus(null);
  }

  /**
   * Open a comm and say hello; resolves with the kernel's status, or null when ipyckpt is not
   * loaded in the kernel (the kernel closes the comm at once).
   */
  async connect(): Promise<IKernelStatus | null> {
    const kernel = this._kernel;
    if (!kernel) {
      return null;
    }
    const comm = kernel.createComm(COMM_TARGET);
    const closed = new Promise<null>(resolve => {
      comm.onClose = () => {
        if (this._comm === comm) {
          this.reset();
        }
        resolve(null);
      };
    });
    comm.onMsg = msg => this._onMessage(comm, msg);
    const id = this._nextId();
    const reply = this._expect<IKernelStatus>(id);
    reply.catch(() => undefined);
    this._comm = comm;
    comm.open({ type: 'hello', version: PROTOCOL_VERSION, id });
    try {
      const status = await Promise.race([reply, closed]);
      if (status) {
        this.model.setKernelStatus(status);
        this.handlers.hello(status);
      }
      return status;
    } catch (error) {
      if (error instanceof ChannelError && error.code === 'version') {
        this._versionProblem(error.message);
      }
      return null;
    }
  }

  /** The kernel's status now (pushes come only with events: a cell may have run since). */
  status(): Promise<IKernelStatus> {
    return this._request<IKernelStatus>({ type: 'status' });
  }

  save(): Promise<ISaveInfo> {
    return this._request<ISaveInfo>({ type: 'save' });
  }

  /** Tell the kernel the user was told what it restored at its start (nobody tells it again). */
  noticed(): Promise<boolean> {
    return this._request<boolean>({ type: 'noticed' });
  }

  /** Exactly `%checkpoint restore`: with `cell`, the state right after that cell. */
  restore(options: {
    generation?: number;
    names?: string[];
    cell?: number;
    trust?: boolean;
  }): Promise<IRestoreInfo> {
    return this._request<IRestoreInfo>({ type: 'restore', ...options });
  }

  /**
   * Exactly `%checkpoint restore --recompute` after the restore of `generation`: re-run the
   * cells that made what it could not bring back. Only ever on the user's click.
   */
  recompute(generation: number): Promise<IRecomputeReport> {
    return this._request<IRecomputeReport>({ type: 'recompute', generation });
  }

  private _adopt(comm: Kernel.IComm, data: any, kernelOpened: boolean): void {
    if (data?.version !== PROTOCOL_VERSION) {
      this._versionProblem(
        `The ipyckpt in this kernel speaks protocol version ${data?.version}, the JupyterLab ` +
          `extension version ${PROTOCOL_VERSION}: install the same ipyckpt version in the ` +
          "kernel's environment and in JupyterLab's, then reload the page."
      );
      return;
    }
    if (this._comm && this._comm !== comm && !this._comm.isDisposed) {
      const old = this._comm;
      old.onClose = () => undefined;
      old.close();
    }
    this._comm = comm;
    comm.onMsg = msg => this._onMessage(comm, msg);
    comm.onClose = () => {
      if (this._comm === comm) {
        this.reset();
      }
    };
    if (kernelOpened && data.status) {
      this.model.setKernelStatus(data.status);
      this.handlers.hello(data.status);
    }
  }

  private _versionProblem(message: string): void {
    this.model.setConnectionProblem(message);
    this.handlers.problem(message);
  }

  private _nextId(): string {
    this._counter += 1;
    return `ipyckpt-${Date.now()}-${this._counter}`;
  }

  private _expect<T>(id: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this._pending.set(id, { resolve, reject });
    });
  }

  private _request<T>(data: { [key: string]: any }): Promise<T> {
    const comm = this._comm;
    if (!comm || comm.isDisposed) {
      return Promise.reject(
        new ChannelError(
          'ipyckpt is not loaded in this kernel (start the kernel, or run %load_ext ipyckpt)',
          'disconnected'
        )
      );
    }
    const id = this._nextId();
    const reply = this._expect<T>(id);
    comm.send({ ...data, id });
    return reply;
  }

  private _onMessage(comm: Kernel.IComm, msg: KernelMessage.ICommMsgMsg): void {
    const data = msg.content.data as any;
    switch (data?.type) {
      case 'reply': {
        const reply = data as IReply;
        const pending = this._pending.get(reply.id);
        if (!pending) {
          return;
        }
        this._pending.delete(reply.id);
        if (reply.ok) {
          pending.resolve(reply.result);
        } else {
          pending.reject(new ChannelError(reply.error ?? 'failed', reply.code));
        }
        return;
      }
      case 'status':
        if (comm === this._comm) {
          this.model.setKernelStatus(data.status);
          this.handlers.event(data.event, data.status);
        }
        return;
      case 'progress':
        if (comm === this._comm) {
          this.model.setProgress({
            trigger: data.trigger,
            estimate: data.estimate,
            done: data.done
          });
        }
        return;
    }
  }
}
