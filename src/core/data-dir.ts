import { accessSync, constants, mkdirSync } from 'node:fs'
import { PosternError } from './errors.js'

/** The error codes of a write the file system refused to this user (its permissions, or a read-only mount). */
const REFUSED = new Set(['EACCES', 'EPERM', 'EROFS'])

/** Whether `err` is the file system refusing this user a write (rather than, say, a full disk). */
export function writeRefused(err: unknown): boolean {
  return REFUSED.has((err as NodeJS.ErrnoException).code ?? '')
}

/**
 * Something this user may not write, said plainly: what it is, who this process runs as, what
 * the file system answered, what needs it, and what to do — rather than the errno of whichever
 * file happened to be first, or SQLite's "attempt to write a readonly database".
 */
function notWritable(what: string, err: unknown, needs: string, remedies: string): PosternError {
  const uid = process.getuid?.()
  return new PosternError('FAILED_PRECONDITION', `${what} is not writable by this user${uid === undefined ? '' : ` (uid ${uid})`}: ${(err as Error).message}. ${needs} ${remedies}`, { cause: err })
}

/** A data directory this user may not write (its mode or owner, a read-only mount). */
export function dataDirNotWritable(dir: string, err: unknown, needs: string): PosternError {
  return notWritable(`The data directory ${dir}`, err, needs, 'Run postern serve as the user that owns it, give this user write access to it, or choose another with --data-dir.')
}

/**
 * A file in a writable data directory that this user may not write: one made read-only (chmod
 * 0400), or left by a start as another user (root's postern.db-wal, say).
 */
export function fileNotWritable(file: string, err: unknown, needs: string): PosternError {
  return notWritable(`The file ${file}`, err, needs, `Run postern serve as the user that owns it, or give this user write access to it (as its owner: chmod u+w ${file}; or chown it to this user).`)
}

/** Throws fileNotWritable unless this user may write `file`; a file not there yet is made by whoever needs it. */
export function writableFile(file: string, needs: string): void {
  try {
    accessSync(file, constants.W_OK)
  } catch (err) {
    if (writeRefused(err)) throw fileNotWritable(file, err, needs)
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/**
 * Makes `dir` (0700) if it is not there, then throws dataDirNotWritable unless this user may
 * create files in it. access(2) answers for the mode, ACLs and a read-only mount alike (root too,
 * for a read-only mount) without writing anything.
 */
export function writableDataDir(dir: string, needs: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    accessSync(dir, constants.W_OK)
  } catch (err) {
    if (writeRefused(err)) throw dataDirNotWritable(dir, err, needs)
    throw err
  }
}
