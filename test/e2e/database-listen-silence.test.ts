import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedServiceAndRobot, closedServiceVerdict } from '../support/closed-service-and-robot.js'
import { createTestDatabase } from '../support/postgres.js'
import { startPostern, type PosternProcess } from '../support/server.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'
import { eventually } from '../support/eventually.js'

/**
 * The one connection that LISTENs for changes goes silent (no answer, no FIN, no RST: a
 * middlebox that lost its state, iptables DROP) while every other connection works. Nothing
 * else would notice: the process must, and listen again, or it learns of changes only by
 * polling. The follower here polls once a minute, so only notifications can carry the change.
 */
describe.skipIf(!inject('postgres'))('the LISTEN connection gone silent', () => {
  let drop: () => Promise<void>
  let link: TcpProxy
  let writer: PosternProcess
  let follower: PosternProcess
  let token: string
  const robot = 'serviceAccount:robot-0@my-project.iam.postern.internal'

  beforeAll(async () => {
    const db = await createTestDatabase()
    drop = db.drop
    const env = { POSTERN_MASTER_KEY: randomBytes(32).toString('base64') }
    writer = await startPostern({ databaseUrl: db.url, env })
    token = (await closedServiceAndRobot(writer)).token
    const pgPort = Number(new URL(db.url).port || 5432)
    link = await startTcpProxy(pgPort)
    const proxied = db.url.replace(`:${pgPort}/`, `:${link.port}/`)
    // A gateway of the writer's installation (its issuer, so the writer's tokens are good here), polling once a minute.
    follower = await startPostern({ databaseUrl: proxied, env: { ...env, POSTERN_CHANGE_POLL_MS: '60000' }, args: ['--planes', 'gateway', '--issuer', writer.controlUrl] })
  }, 60_000)
  afterAll(async () => {
    await Promise.all([writer?.stop(), follower?.stop('SIGKILL')])
    await link?.close()
    await drop?.()
  })

  /** The follower's gateway's verdict. */
  const verdict = () => closedServiceVerdict(follower.gatewayPort, token)
  const bind = (verb: 'add' | 'remove') => writer.cli(['services', `${verb}-iam-policy-binding`, 'api', `--member=${robot}`, '--role=roles/run.invoker', '--quiet'])

  it('is noticed and replaced: changes arrive by notification again within seconds', async () => {
    expect((await bind('add')).code).toBe(0)
    await eventually(3_000, async () => (await verdict()) === 'allowed', 'a change carried by a notification')

    link.silence({ matching: 'LISTEN postern_changes' })
    expect((await bind('remove')).code).toBe(0)
    const seenIn = await eventually(10_000, async () => (await verdict()) === 'denied', 'a change made after the LISTEN connection went silent', 100)
    console.log(`database-listen-silence: a change made after the LISTEN connection went silent was applied ${seenIn} ms later`)
    expect(follower.output()).toMatch(/LISTEN.*did not answer/)
  }, 30_000)
})
