export { type Invoker, FunctionError } from './types';
export { LocalPoolInvoker, type LocalPoolOptions } from './local-pool';
export { InlineInvoker } from './inline';
export { LambdaInvoker, type LambdaInvokerOptions } from './lambda';
