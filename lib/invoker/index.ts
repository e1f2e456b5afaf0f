export { type Invoker, FunctionError } from './types';
export { LocalPoolInvoker, type LocalPoolOptions } from './local-pool';
export { LambdaInvoker, type LambdaInvokerOptions } from './lambda';
