import * as ort from 'onnxruntime-node';

/** onnxruntime session settings for engine graphs. */
export interface SessionOptions {
  /**
   * Threads onnxruntime may use inside one op. Many peers and functions share few cores, so one per session.
   * @default 1
   */
  intraOpNumThreads?: number;
  /** @default 'all' */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export async function createSession(model: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: opts.intraOpNumThreads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
  });
}
