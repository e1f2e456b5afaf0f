import { App } from 'aws-cdk-lib';
import type { DeployConfig } from './config';
import { networkStackName } from './names';
import { NetworkStack } from './network-stack';

/**
 * Adds one network's stack to a CDK app (a new one by default): env-agnostic unless the config names
 * account and region.
 */
export function buildApp(config: DeployConfig, app: App = new App()): { app: App; stack: NetworkStack } {
  const stack = new NetworkStack(app, networkStackName(config.network), {
    config,
    env: config.env,
    description: `spirt network ${config.network}: ${config.peers.length} peers (Redis hosts, Lambda functions, SQS inboxes, KMS keys)`,
    tags: { 'spirt:network': config.network },
  });
  return { app, stack };
}
