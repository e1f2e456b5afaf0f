export { runConfigSchema, type RunConfig, type RunConfigInput, AGGREGATION_RULES, GRADIENT_PATHS } from './schema';
export { parseRunConfig, loadRunConfig, formatConfigIssues, defaultRunId } from './load';
