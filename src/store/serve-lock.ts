import Database from 'better-sqlite3'
import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writableFile, writeRefused } from '../core/data-dir.js'
import { PosternError } from '../core/errors.js'
import { alive } from '../core/file-lock.js'

/** The file whose lock says a `postern serve` holds the data dir, and the note beside it saying which. */
const LOCK_FILE = 'serve.lock'
const HOLDER_FILE = 'serve.holder'

/** Who holds a data dir: what a second start is told of it. */
export interface Holder {
  pid: number
  controlUrl?: string
  gatewayUrl?: string
}

export type DataDirClaim = { held: true; release: () => void } | { held: false; by: Holder | undefined }

/**
 * Claims the data dir for this `postern serve` (its primary under --workers) for as long as the
 * process lives. Two servers on one embedded store share its data but not their issuers: each
 * one's tokens get 401 at the other's gateway, and the second overwrites the first's control-url.
 *
 * The lock is SQLite's own: a RESERVED lock (BEGIN IMMEDIATE, never committed) on an empty
 * database file, which is an fcntl lock the kernel drops when the process ends however it ends
 * (SIGKILL, OOM), so a lock left behind by a dead process cannot be met, and a pid reused since
 * cannot be mistaken for it. Readers are not blocked by it, and nothing is ever written into the file.
 *
 * `{ held: false }` when another live process holds it, with what that process noted of itself
 * (undefined in the moment between its lock and its note). A data dir this user cannot write is
 * not claimed and not refused here: the start fails just after, saying which and what to do
 * (core/data-dir.ts).
 */
export function claimDataDir(dataDir: string, self: Holder): DataDirClaim {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    accessSync(dataDir, constants.W_OK)
  } catch (err) {
    if (writeRefused(err)) return { held: true, release: () => undefined }
    throw err
  }
  const file = join(dataDir, LOCK_FILE)
  // SQLite would open a file this user may not write read-only, without a word.
  writableFile(file, 'Its lock keeps a second postern serve off this data dir.')
  const db = new Database(file)
  try {
    // No wait: a lock held now is held by a running server, which keeps it until it stops.
    db.pragma('busy_timeout = 0')
    // The journal in memory: nothing but the lock is ever left beside the file.
    db.pragma('journal_mode = MEMORY')
    db.exec('BEGIN IMMEDIATE')
  } catch (err) {
    db.close()
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') return { held: false, by: holderOf(dataDir) }
    throw new PosternError('FAILED_PRECONDITION', `Cannot lock ${file}, which keeps two postern serve processes off one data dir: ${(err as Error).message}. Remove it (with no postern serve running on ${dataDir}) and start again.`, { cause: err })
  }
  // Written beside and renamed over: a note left by a start as another user is replaced, not refused.
  // Only a second start's message reads it: one that cannot be written (a full disk) stops no start.
  const note = join(dataDir, `${HOLDER_FILE}.${process.pid}`)
  try {
    writeFileSync(note, JSON.stringify(self) + '\n', { mode: 0o600 })
    renameSync(note, join(dataDir, HOLDER_FILE))
  } catch {
    // Nor is an earlier holder's note left to name a process that may have its pid now.
    for (const f of [note, join(dataDir, HOLDER_FILE)]) rmSync(f, { force: true })
  }
  return { held: true, release: () => db.close() }
}

/** What the holder noted of itself, if it is that process's note: a note left by a process since gone names nobody. */
function holderOf(dataDir: string): Holder | undefined {
  let noted: Holder
  try {
    noted = JSON.parse(readFileSync(join(dataDir, HOLDER_FILE), 'utf8')) as Holder
  } catch {
    return undefined
  }
  return typeof noted.pid === 'number' && alive(noted.pid) ? noted : undefined
}

/** Why a second `postern serve` on a held data dir does not start, and what to run instead. */
export function dataDirHeldMessage(dataDir: string, by: Holder | undefined): string {
  const where = by ? [by.controlUrl && `control plane ${by.controlUrl}`, by.gatewayUrl && `gateway ${by.gatewayUrl}`].filter(Boolean).join(', ') : ''
  const who = by ? `Another postern serve (pid ${by.pid}${where ? `, ${where}` : ''})` : 'Another postern serve'
  return `${who} is running on --data-dir ${dataDir}; nothing was changed. Two servers on one embedded store would each issue tokens the other's gateway refuses. Stop that one first, or choose another --data-dir. For more processes on this machine run one postern serve --workers N; for more machines, share a PostgreSQL (--database-url; README, "Running more than one process").`
}
