// Lint for the whole workspace. The module-boundary rule is what keeps the layers honest:
//   type:core  (diffusion-core, unet)  may import only type:core, and never sockets or metrics;
//   type:lib   (backend, data, training, protocol, metrics, runtime, cluster) may import type:core and type:lib;
//   type:commands (commands: the `ddpm` subcommands' flags) may import type:core and type:lib;
//   type:app   (cli, coordinator, worker: entry points only) may import the above, and nothing imports an app.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/node_modules', '**/dist', '**/generated/**', 'runs/**', '.nx/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          banTransitiveDependencies: false,
          depConstraints: [
            {
              sourceTag: 'type:core',
              onlyDependOnLibsWithTags: ['type:core'],
              bannedExternalImports: ['zeromq', 'prom-client', 'protobufjs', 'pino', 'node:net'],
            },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:core', 'type:lib'] },
            { sourceTag: 'type:commands', onlyDependOnLibsWithTags: ['type:core', 'type:lib'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:core', 'type:lib', 'type:commands'] },
          ],
        },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
];
