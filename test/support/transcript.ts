import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Runs a transcript: a file that reads like a terminal session, in the manner of gh's acceptance
 * tests (testscript). One line each:
 *
 *   # comment                 what the reader is told
 *   $ COMMAND                 typed into the shell (one bash for the whole file: cd and export
 *                             persist); it must exit 0
 *   ! $ COMMAND               typed, and it must fail
 *   stdout REGEX              what the last command printed on stdout must match
 *   stderr REGEX              … on stderr
 *   & NAME $ COMMAND          started in another terminal called NAME (same environment, own
 *                             process group), left running
 *   wait NAME REGEX           waits (up to a minute) until what NAME printed matches
 *   output NAME REGEX         what NAME printed so far matches (with a leading `! `: does not)
 *   stop NAME                 Ctrl-C in NAME's terminal (SIGINT to its process group); waits for it to end
 *
 * Every step is checked as it runs; a failure names the line and shows what the shell printed.
 */
export interface TranscriptResult {
  /** Every step with what it printed: written to the test's output on failure. */
  log: string[]
}

interface Terminal {
  child: ChildProcess
  output: string
  exited: Promise<number | null>
}

export async function runTranscript(file: string, env: Record<string, string>, o: { cwd: string; stepTimeoutMs?: number }): Promise<TranscriptResult> {
  const lines = readFileSync(file, 'utf8').split('\n')
  const log: string[] = []
  const shell = new Shell(env, o.cwd)
  const terminals = new Map<string, Terminal>()
  let last: { stdout: string; stderr: string; code: number } | undefined
  const fail = (n: number, line: string, why: string): never => {
    throw new Error(`${file}:${n + 1}: ${line}\n${why}\n--- transcript so far ---\n${log.join('\n')}`)
  }
  try {
    for (const [n, raw] of lines.entries()) {
      const line = raw.trimEnd()
      if (!line || line.startsWith('#')) continue
      let m: RegExpExecArray | null
      if ((m = /^(!\s+)?\$ (.+)$/.exec(line))) {
        last = await shell.run(m[2]!, o.stepTimeoutMs ?? 300_000)
        log.push(`$ ${m[2]}`, ...indent(last.stdout), ...indent(last.stderr, '  (stderr) '), `  (exit ${last.code})`)
        if (m[1] && last.code === 0) fail(n, line, 'expected the command to fail, and it succeeded')
        if (!m[1] && last.code !== 0) fail(n, line, `exit ${last.code}\n${last.stderr}`)
      } else if ((m = /^(stdout|stderr) (.+)$/.exec(line))) {
        const text = last?.[m[1] as 'stdout' | 'stderr'] ?? ''
        if (!new RegExp(m[2]!, 'm').test(text)) fail(n, line, `${m[1]} was:\n${text}`)
      } else if ((m = /^& (\w+) \$ (.+)$/.exec(line))) {
        terminals.set(m[1]!, shell.background(m[2]!))
        log.push(`[${m[1]}] $ ${m[2]}`)
      } else if ((m = /^wait (\w+) (.+)$/.exec(line))) {
        const t = terminals.get(m[1]!) ?? fail(n, line, `no terminal ${m[1]}`)
        const pattern = new RegExp(m[2]!, 'm')
        const deadline = Date.now() + 60_000
        while (!pattern.test(t.output)) {
          const ended = await Promise.race([t.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))])
          if (ended && !pattern.test(t.output)) fail(n, line, `${m[1]} ended first; it printed:\n${t.output}`)
          if (Date.now() > deadline) fail(n, line, `${m[1]} printed:\n${t.output}`)
        }
      } else if ((m = /^(!\s+)?output (\w+) (.+)$/.exec(line))) {
        const t = terminals.get(m[2]!) ?? fail(n, line, `no terminal ${m[2]}`)
        if (new RegExp(m[3]!, 'm').test(t.output) === Boolean(m[1])) fail(n, line, `${m[2]} printed:\n${t.output}`)
      } else if ((m = /^stop (\w+)$/.exec(line))) {
        const t = terminals.get(m[1]!) ?? fail(n, line, `no terminal ${m[1]}`)
        process.kill(-t.child.pid!, 'SIGINT')
        const code = await Promise.race([t.exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))])
        if (code === 'timeout') fail(n, line, `${m[1]} did not end within 30 s of Ctrl-C`)
        log.push(`[${m[1]}] ^C`, ...indent(t.output))
        terminals.delete(m[1]!)
      } else {
        fail(n, line, 'not a transcript line')
      }
    }
    return { log }
  } finally {
    for (const t of terminals.values()) {
      try {
        process.kill(-t.child.pid!, 'SIGKILL')
      } catch {
        // already ended
      }
    }
    shell.close()
  }
}

const indent = (text: string, prefix = '  ') => (text ? text.replace(/\n$/, '').split('\n').map((l) => prefix + l) : [])

/** One bash, fed a command at a time; each command's output and exit code are read back from files. */
class Shell {
  private readonly bash: ChildProcess
  private readonly dir = mkdtempSync(join(tmpdir(), 'postern-transcript-'))
  private counter = 0
  private signal = ''

  constructor(
    private readonly env: Record<string, string>,
    private readonly startDir: string,
  ) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd: startDir, env, stdio: ['pipe', 'pipe', 'inherit'] })
    this.bash.stdout!.on('data', (d: Buffer) => (this.signal += d))
  }

  async run(command: string, timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number }> {
    const id = ++this.counter
    const out = join(this.dir, `${id}.out`)
    const err = join(this.dir, `${id}.err`)
    const marker = `__step_${id}_done__`
    this.bash.stdin!.write(`{\n${command}\n} > ${out} 2> ${err} < /dev/null; printf '%s %s\\n' ${marker} $?\n`)
    const deadline = Date.now() + timeoutMs
    let match: RegExpExecArray | null
    while (!(match = new RegExp(`${marker} (\\d+)`).exec(this.signal))) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: $ ${command}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    return { stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8'), code: Number(match[1]) }
  }

  /**
   * Another terminal: a new bash in its own process group, as a new terminal window opens — in
   * the starting directory, with the starting environment (not this shell's cd and exports).
   */
  background(command: string): Terminal {
    const child = spawn('bash', ['--noprofile', '--norc', '-c', command], { cwd: this.startDir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const t: Terminal = { child, output: '', exited: new Promise((r) => child.once('exit', (code) => r(code))) }
    child.stdout!.on('data', (d: Buffer) => (t.output += d))
    child.stderr!.on('data', (d: Buffer) => (t.output += d))
    return t
  }

  close(): void {
    this.bash.stdin!.end('exit\n')
  }
}
