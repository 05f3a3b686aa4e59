import { afterAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * `npm start -- --port N` on an existing data directory: the CLI the first start signed in still
 * talks to the old port. The start says so, with the command that points it here.
 */
describe('a restart on another control port', () => {
  const started: PosternProcess[] = []
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()))
  })

  it('prints the line that points the CLI at the new URL; a restart on the same port says nothing of it', async () => {
    const first = await startPostern()
    started.push(first)
    await first.restart()
    expect(first.output()).not.toContain('where this server was before')
    await first.stop()
    const second = await startPostern({ dataDir: first.dataDir, configDir: first.configDir })
    started.push(second)
    expect(second.output()).toContain(`The postern CLI (config in ${first.configDir}) talks to ${first.controlUrl}, where this server was before; to talk to it here, run: postern config set server ${second.controlUrl} && postern auth login (a sign-in belongs to the address it was made at)\n`)
    const set = await second.cli(['config', 'set', 'server', second.controlUrl])
    expect(set.code, set.stderr).toBe(0)
    // The old address's sign-in is not sent to the new one: auth login, as the line says.
    expect((await second.cli(['services', 'list'])).stderr).toContain('sign in there (postern auth login)')
  })
})
