export {
  runConfigSchema,
  type RunConfig,
  type RunConfigInput,
  AGGREGATION_RULES,
  GRADIENT_PATHS,
  PRE_AGGREGATORS,
} from './schema';
export { parseRunConfig, loadRunConfig, formatConfigIssues, defaultRunId } from './load';
