import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/** Characters a shell takes literally inside double quotes. */
const SAFE = /^[\w./+-]+$/

/**
 * What to type in another shell so that `postern` is a command there, or undefined when it
 * already is. Every hint the server prints (`curl … $(postern auth print-identity-token)`) must
 * work as pasted; under `npm start` this process's PATH holds npm's own additions, so only the
 * user's PATH (what follows npm's node-gyp-bin entry) says whether their shell finds `postern`.
 */
export function pathSetupHint(env: Record<string, string | undefined>, packageRoot: string, isExecutable: (file: string) => boolean = executable): string | undefined {
  if (userPath(env).some((dir) => dir && isExecutable(join(dir, 'postern')))) return undefined
  const bin = join(packageRoot, 'node_modules', '.bin')
  if (isExecutable(join(bin, 'postern'))) return SAFE.test(bin) ? `export PATH="${bin}:$PATH"` : `export PATH=${shellWord(bin)}:"$PATH"`
  return `alias postern=${shellWord(join(packageRoot, 'bin', 'postern.js'))}`
}

/** The PATH the user's shell has: npm run-script prepends node_modules/.bin dirs, then node-gyp-bin. */
export function userPath(env: Record<string, string | undefined>): string[] {
  const dirs = (env.PATH ?? '').split(delimiter)
  if (env.npm_lifecycle_event === undefined) return dirs
  const gyp = dirs.findIndex((d) => d.endsWith('node-gyp-bin'))
  return gyp >= 0 ? dirs.slice(gyp + 1) : dirs
}

function shellWord(text: string): string {
  return SAFE.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}
