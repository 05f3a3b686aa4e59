import { readFileSync, readdirSync, statSync } from 'node:fs'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

/** One built console file, held in memory with its gzip form when that is smaller. */
export interface ConsoleAsset {
  body: Buffer
  gzip: Buffer | undefined
  contentType: string
  /** Vite puts a content hash in every name under assets/, so those never change. */
  immutable: boolean
}

/** The built console: relative path (`assets/index-abc.js`) → file; `undefined` when it was never built. */
export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset> | undefined

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt'])

/** Where `vite build` writes the console: `console/dist` at the package root (the same depth from src/ and dist/). */
export function defaultConsoleDir(): string {
  return fileURLToPath(new URL('../../../console/dist/', import.meta.url))
}

/**
 * Reads the built console once at start-up (it is a few hundred kilobytes). Serving from this map
 * means a request path is only ever a key, never a file-system path, so there is nothing to traverse.
 */
export function loadConsoleAssets(dir: string): ConsoleAssets {
  let files: string[]
  try {
    if (!statSync(join(dir, 'index.html')).isFile()) return undefined
    files = walk(dir)
  } catch {
    return undefined
  }
  const assets = new Map<string, ConsoleAsset>()
  for (const file of files) {
    const ext = extname(file).toLowerCase()
    const body = readFileSync(file)
    const compressed = COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined
    const key = relative(dir, file).split(sep).join('/')
    assets.set(key, {
      body,
      gzip: compressed && compressed.length < body.length ? compressed : undefined,
      contentType: TYPES[ext] ?? 'application/octet-stream',
      immutable: key.startsWith('assets/'),
    })
  }
  return assets
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return walk(path)
    return entry.isFile() ? [path] : []
  })
}
