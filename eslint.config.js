import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'bench/.build/**', 'console/dist/**', 'node_modules/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', {
        selector: "MemberExpression[object.name='process'][property.name='env']",
        message: 'Read process.env only in src/main.ts, src/cli/ or tests: pass configuration in.',
      }],
    },
  },
  {
    // The console renders every user-supplied string as text (issue 5): no HTML from strings.
    files: ['console/src/**'],
    rules: {
      'no-restricted-syntax': ['error',
        { selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']", message: 'Render user-supplied strings as text: React escapes them; never dangerouslySetInnerHTML.' },
        { selector: "MemberExpression[property.name=/^(innerHTML|outerHTML)$/]", message: 'Render user-supplied strings as text, never as HTML.' },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'Render user-supplied strings as text, never as HTML.' },
      ],
    },
  },
  {
    // Plain JavaScript run by Node (the bin script): Node's globals exist there.
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['src/main.ts', 'src/cli/**', 'src/core/config.ts', 'test/**', 'bench/**', 'bin/**', 'eslint.config.js', 'vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
)
