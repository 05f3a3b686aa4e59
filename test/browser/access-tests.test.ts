import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { startPostern, type PosternProcess } from '../support/server.js'
import { launchChromium, screenshot, signIn, watchedPage } from './console-harness.js'

/** Policy tests refuse a console write too (DESIGN §9): the Permissions panel shows which test, and nothing is saved. */
interface Policy {
  bindings?: { role: string; members: string[] }[]
  etag?: string
}

let server: PosternProcess
let browser: Browser

const policy = async () => (await server.api<Policy>('POST', '/v2/projects/my-project/services/hello:getIamPolicy', {})).body

beforeAll(async () => {
  server = await startPostern({ args: ['--demo'] })
  browser = await launchChromium()
  const dir = mkdtempSync(join(tmpdir(), 'postern-console-tests-'))
  const tests = join(dir, 'tests.yaml')
  writeFileSync(tests, '- {member: user:bob@example.com, permission: run.routes.invoke, expect: deny}\n- {member: user:dev@example.com, expect: allow}\n')
  for (const args of [
    ['users', 'create', 'dev@example.com'],
    ['users', 'create', 'bob@example.com'],
    ['services', 'add-iam-policy-binding', 'hello', '--member=user:dev@example.com', '--role=roles/run.invoker'],
    ['services', 'set-access-tests', 'hello', tests],
  ]) {
    const r = await server.cli(args)
    expect(r.code, r.stderr).toBe(0)
  }
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

describe('console writes and policy tests', () => {
  it('granting bob, or removing dev, through the Permissions panel is refused naming the test; nothing is saved', async () => {
    const before = await policy()
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } })
    const { page, dialogs, problems } = await watchedPage(context)
    await signIn(page, server, 'owner@example.com', server.ownerPassword!)
    await page.getByRole('checkbox', { name: 'Select service hello' }).check()
    await page.getByRole('button', { name: 'Show info panel' }).click()
    const panel = page.getByRole('complementary', { name: 'Info panel' })
    await panel.getByRole('tab', { name: 'Permissions' }).click()

    await panel.getByRole('button', { name: 'Add principal' }).click()
    const dialog = page.getByRole('dialog', { name: /Grant access/ })
    await dialog.getByLabel('New principals').fill('bob@example.com')
    await dialog.getByLabel('Select a role').selectOption({ label: 'Run Invoker' })
    await dialog.getByRole('button', { name: 'Save' }).click()
    const alert = dialog.getByRole('alert').filter({ hasText: 'would break access test 1' })
    await alert.waitFor()
    expect(await alert.textContent()).toContain('{member: user:bob@example.com, permission: run.routes.invoke, expect: deny}: user:bob@example.com would be allowed run.routes.invoke')
    expect(await alert.textContent()).toContain('Nothing was saved.')
    await screenshot(page, 'console-access-test-refusal')
    await dialog.getByRole('button', { name: 'Cancel' }).click()

    await panel.getByRole('button', { name: 'Remove user:dev@example.com from Run Invoker' }).click()
    const confirm = page.getByRole('dialog', { name: 'Remove principal?' })
    await confirm.getByRole('button', { name: 'Remove' }).click()
    await confirm.getByRole('alert').filter({ hasText: 'would break access test 2' }).waitFor()
    await confirm.getByRole('button', { name: 'Cancel' }).click()

    expect((await policy()).etag).toBe(before.etag)
    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)
})
