#!/usr/bin/env -S node --max-semi-space-size=4
// A 4 MB young generation (Node's default grows to 16 MB per semi-space) keeps the gateway's
// resident memory near its live heap under load; bench/ measured the difference (issue 6).
// The postern command. The CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { run } from '../dist/cli/main.js'

const io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks = []
    for await (const chunk of process.stdin) chunks.push(chunk)
    return Buffer.concat(chunks).toString('utf8')
  },
  stdinIsTTY: Boolean(process.stdin.isTTY),
  env: process.env,
}

const code = await run(process.argv.slice(2), io)
// Let pending stdout drain, then exit with the code (serve resolves only after shutdown).
process.exitCode = code
