#!/usr/bin/env node
// The CDK app: `cdk synth|deploy` from deploy/ (cdk.json), or `npm run deploy:synth`. The config file is
// `-c config=PATH` or $SPIRT_DEPLOY_CONFIG; synthesis does no lookups, so it runs offline.
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';
import { checkLocalAssets, loadDeployConfig } from '../lib/config';
import { DeployConfigError } from '../lib/deploy-config-error';

function main(): void {
  // The CLI passes context (-c) and the output folder through the environment; the App reads both.
  const app = new App();
  const path = (app.node.tryGetContext('config') as string | undefined) ?? process.env.SPIRT_DEPLOY_CONFIG;
  if (!path) throw new DeployConfigError('no deployment config: pass -c config=PATH or set SPIRT_DEPLOY_CONFIG');
  const config = loadDeployConfig(path);
  checkLocalAssets(config);
  buildApp(config, app);
  app.synth();
}

try {
  main();
} catch (err) {
  if (!(err instanceof DeployConfigError)) throw err;
  process.stderr.write(`spirt-deploy: ${err.message}\n`);
  process.exit(1);
}
