// Obsidian's plugin rules (eslint-plugin-obsidianmd's recommended set, which
// includes ESLint's and typescript-eslint's type-checked rules) over src/.
import { defineConfig } from 'eslint/config';
import obsidianmd from 'eslint-plugin-obsidianmd';

export default defineConfig([
  { ignores: ['dist/**', 'coverage/**', 'node_modules/**', 'spec/**', 'scripts/**', 'bench/**', 'bin/**', '*.config.*', 'esbuild.config.mjs', 'version-bump.mjs'] },
  ...obsidianmd.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.*'] },
      },
    },
  },
  {
    // Shared with the headless peer, which runs in Node: there is no window there, and no popout windows.
    files: ['src/core/**', 'src/transport/**', 'src/cli/**'],
    rules: {
      'obsidianmd/prefer-window-timers': 'off',
      'obsidianmd/no-global-this': 'off',
    },
  },
]);
