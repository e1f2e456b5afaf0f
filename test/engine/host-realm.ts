/**
 * jest runs each test file in its own V8 context, whose typed-array constructors differ from the host's.
 * onnxruntime-node builds output tensors from host-realm typed arrays and onnxruntime-common checks them with
 * `instanceof` against the constructors it saw when it loaded, so inside jest every session.run fails with
 * "A float32 tensor's data must be type of function Float32Array()". Importing this module first makes the
 * test context use the host constructors (plain Node, Lambda and worker threads are unaffected).
 */
import { runInThisContext } from 'vm';

const NAMES = [
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Uint8Array',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];
for (const name of NAMES) {
  (globalThis as Record<string, unknown>)[name] = runInThisContext(name);
}

export {};
