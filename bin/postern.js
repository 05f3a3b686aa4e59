#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4 --max-old-space-size=192
// A 4 MB young generation (Node's default grows to 16 MB per semi-space) and a 192 MB old space
// (the live heap is ~50 MB; the default lets it balloon before collecting) keep the gateway's
// resident memory near 150 MB under load; bench/ measured the difference. A very large
// store may need more: run node with a larger --max-old-space-size. MALLOC_ARENA_MAX=2 stops glibc
// giving each thread-pool thread (signature checks, scrypt) an arena of its own: resident memory
// under load came down by ~8 MB (5-minute soak 155 → 146 MB peak; 64 KB bodies 168 → 159 MB).
// The postern command. The CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { run } from '../dist/cli/main.js'

// A reader that stops early (`postern services list | head -1`, `… | true`) closes the pipe, and
// Node reports the next write as an 'error' event (it ignores SIGPIPE), which unhandled prints a
// stack trace. The reader has taken what it wanted, which is no failure of ours: end quietly
// with 0, as most CLIs do — not git's 141 (death by SIGPIPE), which fails a `set -o pipefail`
// script over output nobody wanted. A server keeps serving when whoever read its announcements
// has gone (what it would still print is dropped).
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err
  // (Any word "serve" counts, wherever global flags put it: a command that is not serve then just
  // finishes, its output dropped, and exits as it would.)
  if (!process.argv.slice(2).includes('serve')) process.exit(0)
})

const io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks = []
    for await (const chunk of process.stdin) chunks.push(chunk)
    return Buffer.concat(chunks).toString('utf8')
  },
  stdinIsTTY: Boolean(process.stdin.isTTY),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  prompt: async (question) => {
    const { createInterface } = await import('node:readline/promises')
    const rl = createInterface({ input: process.stdin, output: process.stderr })
    try {
      return await rl.question(question)
    } finally {
      rl.close()
    }
  },
  env: process.env,
}

const code = await run(process.argv.slice(2), io)
// Let pending stdout drain, then exit with the code (serve resolves only after shutdown).
process.exitCode = code
