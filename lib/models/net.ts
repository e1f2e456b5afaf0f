import { GraphBuilder, type Graph } from '../onnx/builder';
import { attr, type Attrs } from '../onnx/types';
import { torchDefault, type Init } from './init';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
}

/** How a family of models initialises its layers (torchvision overrides nn defaults per architecture). */
export interface InitPolicy {
  conv(fanIn: number, fanOut: number): Init;
  convBias(fanIn: number): Init;
  linear(fanIn: number): Init;
  linearBias(fanIn: number): Init;
}

/** nn.Module defaults (what mlp and lenet5 use). */
export const TORCH_DEFAULT: InitPolicy = {
  conv: (fanIn) => torchDefault(fanIn),
  convBias: (fanIn) => torchDefault(fanIn),
  linear: (fanIn) => torchDefault(fanIn),
  linearBias: (fanIn) => torchDefault(fanIn),
};

/** A forward model in inference form plus its parameter and buffer specs, in layout order. */
export interface ModelGraph {
  graph: Graph;
  params: ParamSpec[];
  buffers: ParamSpec[];
}

export const IMAGES = 'images';
export const LOGITS = 'logits';

export interface ConvOptions {
  stride?: number;
  pad?: number;
  groups?: number;
  dilation?: number;
  bias?: boolean;
}

/**
 * Layer-level helpers over the graph builder. Parameters become graph inputs named like PyTorch's
 * state_dict keys (`layer1.0.conv1.weight`), so layouts read naturally and imported models line up.
 */
export class Net {
  readonly b: GraphBuilder;
  readonly params: ParamSpec[] = [];
  readonly buffers: ParamSpec[] = [];
  readonly input: string;

  constructor(
    name: string,
    readonly policy: InitPolicy,
    inputShape: number[] = [1, 28, 28],
  ) {
    this.b = new GraphBuilder(name);
    this.input = this.b.input(IMAGES, 'float32', ['N', ...inputShape]);
  }

  param(name: string, shape: number[], init: Init): string {
    this.params.push({ name, shape, init });
    return this.b.input(name, 'float32', shape);
  }

  buffer(name: string, shape: number[], value: number): string {
    this.buffers.push({ name, shape, init: { kind: 'const', value } });
    return this.b.input(name, 'float32', shape);
  }

  channels(x: string): number {
    return this.b.shape(x)[1] as number;
  }

  conv(x: string, prefix: string, cout: number, k: number, o: ConvOptions = {}): string {
    const cin = this.channels(x);
    const groups = o.groups ?? 1;
    const dilation = o.dilation ?? 1;
    const pad = o.pad ?? Math.floor((k - 1) / 2) * dilation;
    const fanIn = (cin / groups) * k * k;
    const fanOut = cout * k * k; // PyTorch: weight.size(0) * receptive field, groups not divided out
    const w = this.param(`${prefix}.weight`, [cout, cin / groups, k, k], this.policy.conv(fanIn, fanOut));
    const inputs = [x, w];
    if (o.bias ?? true) inputs.push(this.param(`${prefix}.bias`, [cout], this.policy.convBias(fanIn)));
    const attrs: Attrs = {
      kernel_shape: attr.ints([k, k]),
      strides: attr.ints([o.stride ?? 1, o.stride ?? 1]),
      pads: attr.ints([pad, pad, pad, pad]),
      dilations: attr.ints([dilation, dilation]),
      group: attr.int(groups),
    };
    return this.b.op('Conv', inputs, attrs, prefix);
  }

  /** BatchNorm2d in inference form; `torchMomentum` is PyTorch's momentum (ONNX stores 1 - it). */
  batchNorm(x: string, prefix: string, eps = 1e-5, torchMomentum = 0.1): string {
    const c = this.channels(x);
    const scale = this.param(`${prefix}.weight`, [c], { kind: 'const', value: 1 });
    const bias = this.param(`${prefix}.bias`, [c], { kind: 'const', value: 0 });
    const mean = this.buffer(`${prefix}.running_mean`, [c], 0);
    const variance = this.buffer(`${prefix}.running_var`, [c], 1);
    return this.b.op(
      'BatchNormalization',
      [x, scale, bias, mean, variance],
      {
        epsilon: attr.float(eps),
        momentum: attr.float(1 - torchMomentum),
      },
      prefix,
    );
  }

  /** nn.Linear: y = x W^T + b with W [out, in]. */
  linear(x: string, prefix: string, out: number, weightInit?: Init, biasInit?: Init): string {
    const fanIn = this.b.shape(x)[1] as number;
    const w = this.param(`${prefix}.weight`, [out, fanIn], weightInit ?? this.policy.linear(fanIn));
    const bias = this.param(`${prefix}.bias`, [out], biasInit ?? this.policy.linearBias(fanIn));
    return this.b.op('Gemm', [x, w, bias], { transB: attr.int(1) }, prefix);
  }

  relu(x: string): string {
    return this.b.op('Relu', [x]);
  }

  hardswish(x: string): string {
    return this.b.op('HardSwish', [x]);
  }

  /** PyTorch's Hardsigmoid: relu6(x + 3) / 6. */
  hardsigmoid(x: string): string {
    return this.b.op('HardSigmoid', [x], { alpha: attr.float(1 / 6), beta: attr.float(0.5) });
  }

  maxPool(x: string, k: number, stride: number, pad = 0): string {
    return this.b.op('MaxPool', [x], {
      kernel_shape: attr.ints([k, k]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints([pad, pad, pad, pad]),
    });
  }

  avgPool(x: string, k: number, stride: number): string {
    return this.b.op('AveragePool', [x], { kernel_shape: attr.ints([k, k]), strides: attr.ints([stride, stride]) });
  }

  globalAvgPool(x: string): string {
    return this.b.op('GlobalAveragePool', [x]);
  }

  flatten(x: string): string {
    return this.b.op('Flatten', [x], { axis: attr.int(1) });
  }

  add(a: string, c: string): string {
    return this.b.op('Add', [a, c]);
  }

  mul(a: string, c: string): string {
    return this.b.op('Mul', [a, c]);
  }

  concat(xs: string[]): string {
    return this.b.op('Concat', xs, { axis: attr.int(1) });
  }

  /** Marks `x` as the logits output and returns the finished model. */
  finish(x: string): ModelGraph {
    this.b.addNode({ op: 'Identity', name: 'logits', inputs: [x], outputs: [LOGITS], attrs: {} });
    this.b.output(LOGITS);
    return { graph: this.b.build(), params: this.params, buffers: this.buffers };
  }
}
