import { readFileSync, statSync } from 'node:fs'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { createSecureContext } from 'node:tls'
import type { Logger } from '../core/log.js'

export interface TlsFiles {
  readonly cert: string
  readonly key: string
}

export interface TlsPair {
  cert: Buffer
  key: Buffer
}

/**
 * What changes when a file is renewed: its inode (certbot points its links at new files), size
 * or modification time. Read through links, as the TLS server reads them; '' when it cannot be read.
 */
function stamp(path: string): string {
  try {
    const s = statSync(path)
    return `${s.ino}:${s.size}:${s.mtimeMs}`
  } catch {
    return ''
  }
}

/** A pair that loads, and when its certificate expires (as X509Certificate words it). */
export interface LoadedTls {
  pair: TlsPair
  validTo: string
}

/** The pair as it is on disk, or why it is no pair a TLS server could serve, in words that name the flag. */
export function loadTlsPair(files: TlsFiles): LoadedTls | { problem: string } {
  let cert: Buffer
  let key: Buffer
  try {
    cert = readFileSync(files.cert)
  } catch (err) {
    return { problem: `cannot read --tls-cert ${files.cert} (${(err as NodeJS.ErrnoException).code ?? String(err)})` }
  }
  try {
    key = readFileSync(files.key)
  } catch (err) {
    return { problem: `cannot read --tls-key ${files.key} (${(err as NodeJS.ErrnoException).code ?? String(err)})` }
  }
  let validTo: string
  try {
    validTo = new X509Certificate(cert).validTo
  } catch {
    return { problem: `--tls-cert ${files.cert} holds no PEM certificate` }
  }
  try {
    createPrivateKey(key)
  } catch {
    return { problem: `--tls-key ${files.key} holds no PEM private key Postern can read (an encrypted key is not)` }
  }
  try {
    createSecureContext({ cert, key })
  } catch (err) {
    const mismatch = /key values mismatch/.test((err as Error).message)
    return { problem: mismatch ? `--tls-key ${files.key} is not the key of the certificate in --tls-cert ${files.cert}` : `--tls-cert and --tls-key cannot be used: ${(err as Error).message}` }
  }
  return { pair: { cert, key }, validTo }
}

/**
 * Serves a renewed certificate without a restart: `--tls-cert` and `--tls-key` are looked at every
 * `intervalMs`, and when either has changed and the two make a pair that loads (the key is the
 * certificate's), `apply` gets it; new connections are served with it, open ones keep theirs.
 * A renewal caught halfway (the certificate written, its key not yet) or a file gone is said
 * once, and the pair in use stays until the files make a pair again. `checkNow` looks at once
 * (SIGHUP: a deploy hook's `systemctl reload`), and says what it found.
 */
export function watchTlsFiles(files: TlsFiles, apply: (loaded: LoadedTls) => void, o: { intervalMs: number; log: Logger }): { stop(): void; checkNow(): TlsCheck } {
  let seen = stamp(files.cert) + '|' + stamp(files.key)
  let unusable = ''
  const check = (): TlsCheck => {
    const now = stamp(files.cert) + '|' + stamp(files.key)
    // Files already served, or already found unusable as they stand: nothing to read again.
    if (now === seen) return 'unchanged'
    if (now === unusable) return 'unusable'
    const loaded = loadTlsPair(files)
    if ('problem' in loaded) {
      o.log.log('warn', 'the TLS certificate or key changed but cannot be used; the previous pair is still served', { cert: files.cert, key: files.key, problem: loaded.problem })
      unusable = now
      return 'unusable'
    }
    seen = now
    apply(loaded)
    o.log.log('info', 'TLS certificate reloaded', { cert: files.cert, validTo: loaded.validTo })
    return 'reloaded'
  }
  const timer = setInterval(check, o.intervalMs)
  timer.unref()
  return { stop: () => clearInterval(timer), checkNow: check }
}

/** What one look at the TLS files found: a new pair now served, the files as served, or files that make no pair (the served one stays). */
export type TlsCheck = 'reloaded' | 'unchanged' | 'unusable'
