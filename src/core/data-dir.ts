import { accessSync, constants, mkdirSync } from 'node:fs'
import { PosternError } from './errors.js'

/** The error codes of a write the file system refused to this user (its permissions, or a read-only mount). */
const REFUSED = new Set(['EACCES', 'EPERM', 'EROFS'])

/** Whether `err` is the file system refusing this user a write (rather than, say, a full disk). */
export function writeRefused(err: unknown): boolean {
  return REFUSED.has((err as NodeJS.ErrnoException).code ?? '')
}

/**
 * A data directory this user may not write, said plainly: which directory, what the file system
 * answered, and what needs it — rather than the errno of whichever file happened to be first.
 */
export function dataDirNotWritable(dir: string, err: unknown, needs: string): PosternError {
  const uid = process.getuid?.()
  return new PosternError('FAILED_PRECONDITION', `The data directory ${dir} is not writable by this user${uid === undefined ? '' : ` (uid ${uid})`}: ${(err as Error).message}. ${needs} Run postern serve as the user that owns it, give this user write access to it, or choose another with --data-dir.`, { cause: err })
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
