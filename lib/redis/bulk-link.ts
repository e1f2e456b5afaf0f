// A lean Redis connection for moving tensors between peers' databases without garbage. ioredis allocates a
// Buffer for every socket read, another for every bulk reply (the reads concatenated) and another for every
// command with a Buffer argument (the command concatenated): copying one 6 MB gradient made about 18 MB of
// garbage in the worker, and those allocations set the pace of its full collections (a mark-compact per
// step, on the thread that runs the step's tail). Here every read lands in one reused buffer, a bulk reply is
// handed to its caller as views of that buffer while it arrives, and a command's Buffer arguments are
// written by reference.
import net from 'node:net';
import tls from 'node:tls';
import { describeRedisError, formatAddress, type RedisEndpoint } from './connect';

/** A reply: simple string, integer, bulk (a Buffer, or its length when it went to a sink), or null. */
export type BulkReply = string | number | Buffer | null;

/**
 * Receives a bulk reply's payload as it arrives: `chunk` is a view of the link's read buffer, valid only during
 * the call; `offset` is where it starts in the payload.
 */
export type BulkSink = (chunk: Buffer, offset: number) => void;

interface Pending {
  resolve: (reply: BulkReply) => void;
  reject: (err: Error) => void;
  sink?: BulkSink;
}

/** Bytes per socket read (the one buffer every read lands in). */
const READ_BUFFER = 256 * 1024;

export class BulkLink {
  private readonly pending: Pending[] = [];
  private socket: net.Socket | null = null;
  private failure: Error | null = null;
  /** The header line read so far (a header can span reads). */
  private line = '';
  /** Bulk payload bytes still to come, of `total`; -1 while reading a header. */
  private left = -1;
  private total = 0;
  /** The payload of a bulk reply without a sink. */
  private whole: Buffer | null = null;
  /** CRLF bytes still to skip after a payload. */
  private skip = 0;
  private readonly closeListeners: (() => void)[] = [];

  private constructor(private readonly address: string) {}

  /**
   * Connects (TLS when the endpoint says so) and logs in with the endpoint's user.
   * @throws Error naming the address and a reason without secrets (`wrong password`, `connection refused`, ...)
   */
  static async open(endpoint: RedisEndpoint, timeoutMs = 3000): Promise<BulkLink> {
    const link = new BulkLink(formatAddress(endpoint));
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER),
      callback: (n: number, buf: Uint8Array) => (link.read(n, buf as Buffer), true),
    };
    // Node reads TLS into `onread` as well (its type definitions do not list the option for tls.connect).
    const socket = endpoint.tls
      ? tls.connect({ host: endpoint.host, port: endpoint.port, ca: endpoint.tls.ca, onread } as tls.ConnectionOptions)
      : net.connect({ host: endpoint.host, port: endpoint.port, onread });
    link.socket = socket;
    socket.setNoDelay(true);
    socket.on('error', (err) => link.fail(new Error(`${link.address}: ${describeRedisError(err)}`)));
    socket.on('close', () => link.fail(new Error(`${link.address}: connection lost`)));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve, reject) => {
          socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => resolve());
          link.closeListeners.push(() => reject(link.failure));
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${link.address}: timed out`)), timeoutMs);
        }),
      ]);
      if (endpoint.password) {
        const auth = endpoint.username ? [endpoint.username, endpoint.password] : [endpoint.password];
        await link.send(['AUTH', ...auth]).catch((err: Error) => {
          throw new Error(`${link.address}: ${describeRedisError(err)}`);
        });
      }
    } catch (err) {
      link.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return link;
  }

  /** False once the connection failed or was closed (every later command rejects). */
  get open(): boolean {
    return this.failure === null;
  }

  /** Runs once when the connection fails or is closed. */
  onClose(listener: () => void): void {
    if (this.failure) listener();
    else this.closeListeners.push(listener);
  }

  /**
   * Sends one command. Buffer arguments are written by reference: the caller keeps them unchanged until the
   * reply arrives. With `sink`, a bulk reply's payload goes to the sink as it arrives and the reply is its length.
   */
  send(args: (string | number | Buffer)[], sink?: BulkSink): Promise<BulkReply> {
    if (this.failure || !this.socket) return Promise.reject(this.failure ?? new Error('not connected'));
    const socket = this.socket;
    const reply = new Promise<BulkReply>((resolve, reject) => this.pending.push({ resolve, reject, sink }));
    let text = `*${args.length}\r\n`;
    socket.cork();
    for (const arg of args) {
      if (Buffer.isBuffer(arg)) {
        socket.write(`${text}$${arg.length}\r\n`);
        socket.write(arg);
        text = '\r\n';
      } else {
        const s = String(arg);
        text += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
      }
    }
    socket.write(text);
    socket.uncork();
    return reply;
  }

  close(): void {
    this.fail(new Error(`${this.address}: connection closed`));
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.socket?.destroy();
    for (const p of this.pending.splice(0)) p.reject(err);
    for (const l of this.closeListeners.splice(0)) l();
  }

  /** Parses what one socket read brought (`buf` is reused by the next read). */
  private read(n: number, buf: Buffer): void {
    let i = 0;
    while (i < n && !this.failure) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i);
        this.skip -= k;
        i += k;
        if (this.skip === 0) this.settle(this.whole ?? this.total);
      } else if (this.left > 0) {
        const k = Math.min(this.left, n - i);
        const offset = this.total - this.left;
        const sink = this.pending[0]?.sink;
        try {
          if (sink) sink(buf.subarray(i, i + k), offset);
          else buf.copy(this.whole as Buffer, offset, i, i + k);
        } catch (err) {
          // Thrown inside the socket's read callback it would be uncaught: the link fails instead.
          this.fail(new Error(`${this.address}: a reply's receiver failed: ${(err as Error).message}`));
          return;
        }
        this.left -= k;
        i += k;
        if (this.left === 0) this.skip = 2;
      } else {
        const nl = buf.indexOf(10, i);
        if (nl < 0 || nl >= n) {
          this.line += buf.toString('latin1', i, n);
          return;
        }
        const line = (this.line + buf.toString('latin1', i, nl)).replace(/\r$/, '');
        this.line = '';
        i = nl + 1;
        this.header(line);
      }
    }
  }

  private header(line: string): void {
    const value = line.slice(1);
    switch (line[0]) {
      case '+':
        return this.settle(value);
      case ':':
        return this.settle(Number(value));
      case '-': {
        const p = this.pending.shift();
        p?.reject(new Error(value));
        return;
      }
      case '$': {
        const len = Number(value);
        if (len < 0) return this.settle(null);
        this.total = len;
        this.whole = this.pending[0]?.sink ? null : Buffer.allocUnsafe(len);
        this.left = len;
        if (len === 0) this.skip = 2;
        return;
      }
      default:
        this.fail(new Error(`${this.address}: unexpected reply ${JSON.stringify(line.slice(0, 20))}`));
    }
  }

  private settle(reply: BulkReply): void {
    this.left = -1;
    this.whole = null;
    const p = this.pending.shift();
    if (!p) return this.fail(new Error(`${this.address}: a reply nobody asked for`));
    p.resolve(reply);
  }
}
