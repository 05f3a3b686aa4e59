import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/**
 * The benchmarks measure the code users run: the compiled `dist/`, not the TypeScript sources.
 * Bench files are transpiled on their own into dist/bench/ (esbuild, no bundling), so values
 * from Postern are imported from dist/ at run time and typed from src/:
 *
 *   const { decide } = await importDist<typeof import('../src/iam/decide.js')>('iam/decide.js')
 */
export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)))
export const BIN = join(ROOT, 'bin', 'postern.js')

export function importDist<T>(path: string): Promise<T> {
  return import(pathToFileURL(join(ROOT, 'dist', path)).href) as Promise<T>
}

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'bin', 'postern.js')) && existsSync(join(dir, 'package.json'))) return dir
    if (dirname(dir) === dir) throw new Error(`bench: no Postern checkout above ${from}`)
  }
}
