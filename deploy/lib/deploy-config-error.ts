/** A deployment config file is missing, not JSON, or does not describe a deployable network. */
export class DeployConfigError extends Error {
  override name = 'DeployConfigError';
}
