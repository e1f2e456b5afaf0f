import * as ort from 'onnxruntime-node';
import type { Graph } from '../onnx/builder';
import { encodeModel } from '../onnx/serialize';
import {
  buildEvaluationGraph,
  buildTrainingGraph,
  bufferUpdateName,
  CORRECT,
  gradName,
  LABELS,
  LOSS,
  trainingForward,
} from '../onnx/training';
import { fillInit, seededRandom } from '../models/init';
import type { ModelGraph, ParamSpec } from '../models/net';
import { IMAGES } from '../models/net';
import { EngineError } from './engine-error';
import { makeLayout, type ParamLayout } from './layout';
import type { EvaluateResult, Trainer, TrainStepResult } from './trainer';
import { createSession, type SessionOptions } from './session';

/** The full trainer contract: the foundation's Trainer plus what benchmarks and the lambdas use. */
export interface EngineTrainer extends Trainer {
  /** Input sample shape without the batch axis, e.g. [1, 28, 28]. */
  readonly sampleShape: number[];
  readonly classes: number;
  /** The forward half of a training step (batch statistics, loss), for benchmarks. */
  forwardLoss(
    params: Float32Array,
    buffers: Float32Array,
    images: Float32Array,
    labels: Uint8Array,
    n: number,
  ): Promise<number>;
  /** Releases the onnxruntime sessions. */
  dispose(): Promise<void>;
}

export interface TrainerOptions extends SessionOptions {
  /** Number of classes of the labels. @default 10 */
  classes?: number;
}

type SessionKind = 'train' | 'eval' | 'forward';

/** Trainer over any forward model graph (zoo or imported) with parameters and buffers as graph inputs. */
export class OnnxTrainer implements EngineTrainer {
  readonly layout: ParamLayout;
  readonly bufferLayout: ParamLayout;
  readonly sampleShape: number[];
  readonly classes: number;
  private readonly sessions = new Map<SessionKind, Promise<ort.InferenceSession>>();

  constructor(
    readonly model: string,
    private readonly spec: ModelGraph,
    private readonly opts: TrainerOptions = {},
  ) {
    this.layout = makeLayout(spec.params);
    this.bufferLayout = makeLayout(spec.buffers);
    const input = spec.graph.inputs.find((i) => i.name === IMAGES);
    if (!input || input.shape.slice(1).some((d) => typeof d !== 'number')) {
      throw new EngineError(`model ${model} needs an input '${IMAGES}' with static sample dimensions`);
    }
    this.sampleShape = input.shape.slice(1) as number[];
    this.classes = opts.classes ?? 10;
  }

  initParams(seed: number): Float32Array {
    return fill(this.layout, this.spec.params, seed);
  }

  initBuffers(): Float32Array {
    return fill(this.bufferLayout, this.spec.buffers, 0);
  }

  async trainStep(
    params: Float32Array,
    buffers: Float32Array,
    images: Float32Array,
    labels: Uint8Array,
    n: number,
  ): Promise<TrainStepResult> {
    const session = await this.session('train');
    const feeds = this.feeds(params, buffers, images, labels, n);
    // onnxruntime writes every gradient straight into its slice of the flat vector (pre-allocated outputs).
    const grad = new Float32Array(this.layout.size);
    const updated = new Float32Array(this.bufferLayout.size);
    const loss = new Float32Array(1);
    const fetches: Record<string, ort.Tensor> = { [LOSS]: new ort.Tensor('float32', loss, []) };
    for (const e of this.layout.entries)
      fetches[gradName(e.name)] = new ort.Tensor('float32', grad.subarray(e.offset, e.offset + e.size), e.shape);
    for (const e of this.bufferLayout.entries) {
      fetches[bufferUpdateName(e.name)] = new ort.Tensor(
        'float32',
        updated.subarray(e.offset, e.offset + e.size),
        e.shape,
      );
    }
    await session.run(feeds, fetches);
    return { loss: loss[0], grad, buffers: updated };
  }

  async evaluate(
    params: Float32Array,
    buffers: Float32Array,
    images: Float32Array,
    labels: Uint8Array,
    n: number,
  ): Promise<EvaluateResult> {
    const session = await this.session('eval');
    const out = await session.run(this.feeds(params, buffers, images, labels, n));
    return { loss: scalarOf(out[LOSS]) / n, correct: Math.round(scalarOf(out[CORRECT])), count: n };
  }

  async forwardLoss(
    params: Float32Array,
    buffers: Float32Array,
    images: Float32Array,
    labels: Uint8Array,
    n: number,
  ): Promise<number> {
    const session = await this.session('forward');
    const out = await session.run(this.feeds(params, buffers, images, labels, n), [LOSS]);
    return scalarOf(out[LOSS]);
  }

  /** The ONNX graph of one session kind (for dumps, exports and tests). */
  graph(kind: SessionKind): Graph {
    const names = { params: this.spec.params.map((p) => p.name), buffers: this.spec.buffers.map((p) => p.name) };
    if (kind === 'train') return buildTrainingGraph(this.spec.graph, names);
    if (kind === 'forward') return trainingForward(this.spec.graph, names).graph;
    return buildEvaluationGraph(this.spec.graph);
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }

  private session(kind: SessionKind): Promise<ort.InferenceSession> {
    let s = this.sessions.get(kind);
    if (!s) {
      s = createSession(encodeModel(this.graph(kind)), this.opts);
      s.catch(() => this.sessions.delete(kind));
      this.sessions.set(kind, s);
    }
    return s;
  }

  private feeds(
    params: Float32Array,
    buffers: Float32Array,
    images: Float32Array,
    labels: Uint8Array,
    n: number,
  ): Record<string, ort.Tensor> {
    if (!(params instanceof Float32Array) || params.length !== this.layout.size) {
      throw new EngineError(
        `parameter vector has ${params?.length} floats, model ${this.model} expects ${this.layout.size}`,
      );
    }
    if (!(buffers instanceof Float32Array) || buffers.length !== this.bufferLayout.size) {
      throw new EngineError(
        `buffer vector has ${buffers?.length} floats, model ${this.model} expects ${this.bufferLayout.size}`,
      );
    }
    const sample = this.sampleShape.reduce((p, d) => p * d, 1);
    if (!Number.isInteger(n) || n < 1) throw new EngineError(`batch size must be a positive integer, got ${n}`);
    if (images.length < n * sample)
      throw new EngineError(`batch of ${n} needs ${n * sample} image values, got ${images.length}`);
    if (labels.length < n) throw new EngineError(`batch of ${n} needs ${n} labels, got ${labels.length}`);
    const lab = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      if (labels[i] >= this.classes)
        throw new EngineError(`label ${labels[i]} at index ${i} is not a class of ${this.classes}`);
      lab[i] = BigInt(labels[i]);
    }
    const feeds: Record<string, ort.Tensor> = {
      [IMAGES]: new ort.Tensor('float32', images.subarray(0, n * sample), [n, ...this.sampleShape]),
      [LABELS]: new ort.Tensor('int64', lab, [n]),
    };
    for (const e of this.layout.entries)
      feeds[e.name] = new ort.Tensor('float32', params.subarray(e.offset, e.offset + e.size), e.shape);
    for (const e of this.bufferLayout.entries)
      feeds[e.name] = new ort.Tensor('float32', buffers.subarray(e.offset, e.offset + e.size), e.shape);
    return feeds;
  }
}

function fill(layout: ParamLayout, specs: ParamSpec[], seed: number): Float32Array {
  const out = new Float32Array(layout.size);
  const rand = seededRandom(seed);
  specs.forEach((s, i) => {
    const e = layout.entries[i];
    fillInit(out.subarray(e.offset, e.offset + e.size), s.init, rand);
  });
  return out;
}

function scalarOf(t: ort.Tensor): number {
  return Number((t.data as Float32Array)[0]);
}
