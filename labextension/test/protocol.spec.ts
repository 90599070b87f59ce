import * as fs from 'fs';
import * as path from 'path';

import { COMM_TARGET, PROTOCOL_VERSION } from '../src/protocol';

describe('the comm protocol', () => {
  it('is the one the kernel reads (ipyckpt/kernel/comm_protocol.json)', () => {
    const source = path.join(
      __dirname,
      '..',
      '..',
      'ipyckpt',
      'kernel',
      'comm_protocol.json'
    );
    const protocol = JSON.parse(fs.readFileSync(source, 'utf8'));
    expect(PROTOCOL_VERSION).toBe(protocol.version);
    expect(COMM_TARGET).toBe(protocol.target);
  });
});
