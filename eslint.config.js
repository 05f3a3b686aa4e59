import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/**
 * The layers (README, "How it is built"): a folder may import only the folders below it. Each
 * entry names the top-level folders of src/ that a folder must NOT import; main.ts, cluster.ts
 * and demo/ wire everything together and may import anything.
 */
const ALL = ['api', 'core', 'http', 'iam', 'store', 'identity', 'directory', 'observability', 'gateway', 'control', 'cli', 'demo']
const allowed = {
  api: [],
  core: ['api'],
  http: ['api', 'core'],
  iam: ['api', 'core'],
  store: ['api', 'core', 'iam'],
  identity: ['api', 'core', 'http', 'iam', 'store'],
  directory: ['api', 'core', 'iam', 'identity', 'store'],
  observability: ['api', 'core', 'store'],
  gateway: ['api', 'core', 'http', 'iam', 'identity', 'store', 'directory', 'observability'],
  control: ['api', 'core', 'http', 'iam', 'identity', 'store', 'directory', 'observability'],
  cli: ['api', 'core', 'http'],
}
const layerRule = (folder, extra = []) => {
  const refused = ALL.filter((f) => f !== folder && !allowed[folder].includes(f) && !extra.includes(f))
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          regex: `^(\\.\\./)+(${refused.join('|')})/`,
          message: `src/${folder} may import only ${[...allowed[folder], ...extra].join(', ') || 'nothing else in src'} (the layers in the README): move what both need down a layer.`,
        }],
      }],
    },
  }
}
/** What the console bundle and the CLI's start-up load: no CEL compiler, no Node crypto. */
const apiRule = {
  files: ['src/api/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        { regex: '^\\.\\./', message: 'src/api is the bottom layer: it imports nothing else in src.' },
        { regex: '^(node:|@marcbachmann/cel-js)', message: 'src/api is bundled into the console: no Node modules, no CEL compiler.' },
      ],
    }],
  },
}

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
    // The console renders every user-supplied string as text: no HTML from strings.
    files: ['console/src/**'],
    rules: {
      'no-restricted-syntax': ['error',
        { selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']", message: 'Render user-supplied strings as text: React escapes them; never dangerouslySetInnerHTML.' },
        { selector: "MemberExpression[property.name=/^(innerHTML|outerHTML)$/]", message: 'Render user-supplied strings as text, never as HTML.' },
        { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'Render user-supplied strings as text, never as HTML.' },
      ],
    },
  },
  ...Object.keys(allowed).filter((f) => f !== 'api').map((f) => layerRule(f)),
  // The configuration parses --trusted-proxies into the HTTP layer's own type.
  { ...layerRule('core', ['http']), files: ['src/core/config.ts'] },
  apiRule,
  {
    // The console is a browser bundle: of the server's code it may import only the wire contract.
    files: ['console/src/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ regex: '^(\\.\\./)+src/(?!api/)', message: 'The console may import only src/api of the server code (the wire contract).' }],
      }],
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
