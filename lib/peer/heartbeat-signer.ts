import { signBytes, verifyBytes } from '../crypto/sign';
import type { HeartbeatSigner } from '../redis/peer-monitor';
import type { KeyRing } from './key-ring';

function statement(peer: string, value: string): Buffer {
  return Buffer.from(`spirt-heartbeat|${peer}|${value}`);
}

/** Heartbeats signed with this peer's key and checked against the keys its handshake verified. */
export function heartbeatSigner(selfId: string, signingPrivateKey: string, ring: KeyRing): HeartbeatSigner {
  return {
    sign: (value) => signBytes(signingPrivateKey, statement(selfId, value)),
    async check(peer, signed) {
      const dot = signed.lastIndexOf('.');
      if (dot < 0) return 'unsigned heartbeat';
      const key = await ring.signingKey(peer);
      if (!key) return `${peer} is not a trusted peer`;
      return verifyBytes(key, statement(peer, signed.slice(0, dot)), signed.slice(dot + 1)) ? null : 'bad signature';
    },
  };
}
