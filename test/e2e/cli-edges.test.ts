import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { posternOnPath, sh } from '../support/shell.js'

/** What an outside tester found at the CLI's edges: pipes, odd names, odd values. */
describe('CLI edges', () => {
  let p: PosternProcess
  let binDir: string
  const shell = (line: string) => sh(line, { configDir: p.configDir, binDir })

  beforeAll(async () => {
    p = await startPostern()
    binDir = posternOnPath()
    const created = await p.cli(['services', 'create', 'hello', '--upstream=http://127.0.0.1:9000'])
    expect(created.code, created.stderr).toBe(0)
  })
  afterAll(() => p?.stop())

  it('a reader that closes the pipe early ends the command quietly, exit 0', async () => {
    // pipefail: the line's status is postern's own, not that of `true`.
    for (const line of ['postern services get-iam-policy hello | true', 'postern auth print-identity-token | true', 'postern services list | head -c1 >/dev/null']) {
      expect(await shell(`set -o pipefail; ${line}`), line).toMatchObject({ code: 0, stderr: '' })
    }
  })
})
