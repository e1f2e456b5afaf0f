// jest setup file (every test file): jest runs each file in its own V8 context, whose typed-array
// constructors differ from the host's; onnxruntime-node creates output tensors with the host's and
// onnxruntime-common checks them with `instanceof`, so inside jest session.run would fail with
// "A float32 tensor's data must be type of function Float32Array()". Use the host constructors.
import { runInThisContext } from 'node:vm';

for (const name of [
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
]) {
  (globalThis as Record<string, unknown>)[name] = runInThisContext(name);
}
