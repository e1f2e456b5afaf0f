// A plain TCP forwarder: listens on one loopback address and pipes each connection to another. The multi-host
// test puts Temporal "on 127.0.0.2" with it: the temporal dev server listens on any --ip, but its own services
// dial each other on 127.0.0.1 (membership broadcast address), so a dev server bound elsewhere cannot start
// a workflow. A real cluster has no such limit; the peers only ever see the forwarded address.
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpForward {
  address: string;
  close(): Promise<void>;
}

export function forwardTcp(
  listen: { host: string; port: number },
  target: { host: string; port: number },
): Promise<TcpForward> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(target.port, target.host);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () =>
      resolve({
        address: `${listen.host}:${listen.port}`,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}
