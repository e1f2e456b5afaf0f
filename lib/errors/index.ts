export { ConfigError } from './config-error';
export { StackError } from './stack-error';
export { DataError } from './data-error';
export { TensorError } from './tensor-error';
export { SecurityError, type SecurityReason } from './security-error';
export { QueueError } from './queue-error';
