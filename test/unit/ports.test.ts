import { createServer, type Server } from 'node:net';
import { freePortRange, isPortFree } from '../../lib/stack/ports';

describe('freePortRange', () => {
  it('returns a base whose next ports are all free, skipping a base with a busy neighbour', async () => {
    const base = await freePortRange(4);
    const free = await Promise.all([0, 1, 2, 3].map((i) => isPortFree(base + i)));
    expect(free).toEqual([true, true, true, true]);

    // Occupy base + 2: that base is no longer a range of 4 free ports, and the next answer is another one.
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen({ port: base + 2, host: '127.0.0.1' }, resolve));
    try {
      expect(await isPortFree(base + 2)).toBe(false);
      const next = await freePortRange(4);
      expect(next + 3 < base + 2 || next > base + 2).toBe(true);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
