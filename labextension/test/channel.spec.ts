import { Channel } from '../src/channel';
import { StateModel } from '../src/model';
import { IKernelStatus, PROTOCOL_VERSION } from '../src/protocol';
import { kernelStatus } from './fixtures';

/** Just enough of a JupyterLab comm and kernel connection for the channel. */
class FakeComm {
  sent: any[] = [];
  opened: any = null;
  isDisposed = false;
  onMsg: (msg: any) => void = () => undefined;
  onClose: (msg: any) => void = () => undefined;
  open(data: any): void {
    this.opened = data;
  }
  send(data: any): void {
    this.sent.push(data);
  }
  close(): void {
    this.isDisposed = true;
  }
  /** The kernel sends `data` on this comm. */
  receive(data: any): void {
    this.onMsg({ content: { data } });
  }
}

class FakeKernel {
  comms: FakeComm[] = [];
  targets = new Map<string, (comm: any, msg: any) => void>();
  createComm(): FakeComm {
    const comm = new FakeComm();
    this.comms.push(comm);
    return comm;
  }
  registerCommTarget(name: string, cb: (comm: any, msg: any) => void): void {
    this.targets.set(name, cb);
  }
}

const status = kernelStatus;

const tick = (): Promise<void> =>
  new Promise(resolve => setTimeout(resolve, 0));

function setup() {
  const model = new StateModel();
  const calls = {
    hello: [] as IKernelStatus[],
    problem: [] as string[],
    event: [] as string[]
  };
  const channel = new Channel(model, {
    hello: s => calls.hello.push(s),
    problem: m => calls.problem.push(m),
    event: e => calls.event.push(e)
  });
  const kernel = new FakeKernel();
  channel.attach(kernel as any);
  return { model, calls, channel, kernel };
}

/** Connect `channel` and answer its hello with a status, as a loaded kernel does. */
async function connect(
  channel: Channel,
  kernel: FakeKernel
): Promise<FakeComm> {
  const connected = channel.connect();
  const comm = kernel.comms[0];
  comm.receive({
    type: 'reply',
    id: comm.opened.id,
    ok: true,
    result: status()
  });
  await connected;
  return comm;
}

describe('Channel', () => {
  it('says hello with the protocol version and takes the status', async () => {
    const { model, calls, channel, kernel } = setup();
    const connected = channel.connect();
    const comm = kernel.comms[0];
    expect(comm.opened).toMatchObject({
      type: 'hello',
      version: PROTOCOL_VERSION
    });
    comm.receive({
      type: 'reply',
      id: comm.opened.id,
      ok: true,
      result: status()
    });
    expect(await connected).toMatchObject({ token: 'tok' });
    expect(channel.connected).toBe(true);
    expect(model.kernel?.token).toBe('tok');
    expect(calls.hello).toHaveLength(1);
  });

  it('resolves null when ipyckpt is not loaded (the kernel closes the comm)', async () => {
    const { channel, kernel } = setup();
    const connected = channel.connect();
    kernel.comms[0].onClose({});
    expect(await connected).toBeNull();
    expect(channel.connected).toBe(false);
  });

  it('reports a version mismatch once, as one message', async () => {
    const { model, calls, channel, kernel } = setup();
    const connected = channel.connect();
    const comm = kernel.comms[0];
    comm.receive({
      type: 'reply',
      id: comm.opened.id,
      ok: false,
      code: 'version',
      error: 'install the same ipyckpt version'
    });
    expect(await connected).toBeNull();
    expect(calls.problem).toEqual(['install the same ipyckpt version']);
    expect(model.view().text).toBe('State: version mismatch');
  });

  it('adopts a comm the kernel opens, and refuses another protocol', () => {
    const { model, calls, kernel } = setup();
    const target = kernel.targets.get('ipyckpt')!;
    const comm = new FakeComm();
    target(comm, {
      content: {
        data: { type: 'hello', version: PROTOCOL_VERSION, status: status() }
      }
    });
    expect(calls.hello).toHaveLength(1);
    expect(model.kernel?.store).toBe('/s');
    target(new FakeComm(), {
      content: { data: { type: 'hello', version: 99 } }
    });
    expect(calls.problem[0]).toContain('protocol version 99');
  });

  it('matches replies to requests and fails them on a restart', async () => {
    const { channel, kernel } = setup();
    const comm = await connect(channel, kernel);

    const save = channel.save();
    const restore = channel.restore({ generation: 1, names: ['x'] });
    const [saveReq, restoreReq] = comm.sent;
    expect(saveReq).toMatchObject({ type: 'save' });
    expect(restoreReq).toMatchObject({
      type: 'restore',
      generation: 1,
      names: ['x']
    });
    comm.receive({
      type: 'reply',
      id: restoreReq.id,
      ok: false,
      error: 'nope',
      code: 'NoCheckpoint'
    });
    comm.receive({
      type: 'reply',
      id: saveReq.id,
      ok: true,
      result: { generation: 4 }
    });
    await expect(save).resolves.toEqual({ generation: 4 });
    await expect(restore).rejects.toMatchObject({
      message: 'nope',
      code: 'NoCheckpoint'
    });

    const pending = channel.save();
    channel.reset();
    await expect(pending).rejects.toMatchObject({ code: 'restart' });
    await expect(channel.save()).rejects.toMatchObject({
      code: 'disconnected'
    });
  });

  it('goes back to a cell and asks to recompute, as %checkpoint restore does', async () => {
    const { channel, kernel } = setup();
    const comm = await connect(channel, kernel);
    const travel = channel.restore({ generation: 5, cell: 12 });
    const recompute = channel.recompute(5);
    const fresh = channel.status();
    const [travelReq, recomputeReq, statusReq] = comm.sent;
    expect(travelReq).toMatchObject({
      type: 'restore',
      generation: 5,
      cell: 12
    });
    expect(recomputeReq).toMatchObject({ type: 'recompute', generation: 5 });
    expect(statusReq).toMatchObject({ type: 'status' });
    const report = {
      reruns: [],
      unknown: [],
      nothing_missing: true,
      lines: ['nothing to recompute']
    };
    comm.receive({
      type: 'reply',
      id: recomputeReq.id,
      ok: true,
      result: report
    });
    comm.receive({
      type: 'reply',
      id: statusReq.id,
      ok: true,
      result: status({ token: 'now' })
    });
    comm.receive({
      type: 'reply',
      id: travelReq.id,
      ok: false,
      error: 'state checkpoint 5 was not taken right after cell [12]',
      code: 'ValueError'
    });
    await expect(recompute).resolves.toEqual(report);
    await expect(fresh).resolves.toMatchObject({ token: 'now' });
    await expect(travel).rejects.toMatchObject({ code: 'ValueError' });
  });

  it("tells the kernel the user was told of its start ('noticed')", async () => {
    const { channel, kernel } = setup();
    const comm = await connect(channel, kernel);
    const noticed = channel.noticed();
    const [request] = comm.sent;
    expect(request).toMatchObject({ type: 'noticed' });
    comm.receive({ type: 'reply', id: request.id, ok: true, result: true });
    await expect(noticed).resolves.toBe(true);
  });

  it('applies pushed status and progress to the model', async () => {
    const { model, calls, channel, kernel } = setup();
    const comm = await connect(channel, kernel);
    comm.receive({
      type: 'status',
      event: 'saving',
      status: status({
        saving: { trigger: 'periodic', estimate: 200, done: 0 }
      })
    });
    comm.receive({
      type: 'progress',
      trigger: 'periodic',
      estimate: 200,
      done: 90
    });
    expect(model.view().text).toBe('State: saving… 45 %');
    comm.receive({ type: 'status', event: 'saved', status: status() });
    expect(calls.event).toEqual(['saving', 'saved']);
    await tick();
    expect(model.saving).toBeNull();
  });
});
