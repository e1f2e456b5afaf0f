// ESLint flat config. Workflow code must stay deterministic: no Node builtins, no I/O clients.
const tseslint = require('typescript-eslint');
const { builtinModules } = require('node:module');

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'redisai-module/**', '**/*.js'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: __dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, 'ioredis', 'pino', 'onnxruntime-node'].map((name) => ({
            name,
            message: 'Workflow code must be deterministic: no Node builtins or I/O clients (use an activity).',
          })),
          patterns: [
            { group: ['@aws-sdk/*'], message: 'Workflow code must not use the AWS SDK (use an activity).' },
            {
              group: ['../activities/*', '../lib/redis/*', '../lib/stack/*'],
              message: 'Workflows import activities by type only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'setInterval', 'process', 'Buffer', 'require'],
    },
  },
);
