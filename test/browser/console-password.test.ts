import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'
import { launchChromium, signIn, watchedPage } from './console-harness.js'

/**
 * Changing your own password in the console, in Debian's Chromium: the current password is asked
 * for and checked, the new one typed twice and held to the server's rules; afterwards this browser
 * stays signed in, another browser's session of the same person has ended, and only the new
 * password signs in.
 */
const PROJECT = 'my-project'
const CAROL = 'carol@example.com'
const OLD = 'carol-old-password-123'
const NEW = 'carol-new-password-456'

let server: PosternProcess
let browser: Browser

beforeAll(async () => {
  server = await startPostern({ args: ['--demo'] })
  const owner = await server.ownerToken()
  expect((await server.api('POST', '/v1/users', { email: CAROL, password: OLD }, owner)).status).toBe(200)
  const { body: policy } = await server.api<{ bindings?: { role: string; members: string[] }[]; etag?: string }>('POST', `/v1/projects/${PROJECT}:getIamPolicy`, undefined, owner)
  const bindings = [...(policy.bindings ?? []), { role: 'roles/run.viewer', members: [`user:${CAROL}`] }]
  expect((await server.api('POST', `/v1/projects/${PROJECT}:setIamPolicy`, { policy: { bindings, etag: policy.etag } }, owner)).status).toBe(200)
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

describe('changing your own password in the console', () => {
  it('asks for the current password, checks the new one, keeps this session and ends the others', async () => {
    const here = await browser.newContext()
    const { page, dialogs, problems } = await watchedPage(here)
    await signIn(page, server, CAROL, OLD)
    const elsewhere = await browser.newContext()
    const other = await elsewhere.newPage()
    await signIn(other, server, CAROL, OLD)

    await page.getByRole('button', { name: 'Change password' }).click()
    const dialog = page.getByRole('dialog', { name: 'Change password' })
    const attempt = async (current: string, next: string, again = next) => {
      await dialog.getByLabel('Current password').fill(current)
      await dialog.getByLabel('New password', { exact: true }).fill(next)
      await dialog.getByLabel('New password, again').fill(again)
      await dialog.getByRole('button', { name: 'Change password' }).click()
    }

    await attempt('not-my-password', NEW)
    await expect.poll(() => dialog.getByRole('alert').textContent()).toBe('The current password is wrong; the password was not changed.')
    await attempt(OLD, NEW, `${NEW}!`)
    await expect.poll(() => dialog.getByRole('alert').textContent()).toBe('The two new passwords differ.')
    await attempt(OLD, 'short')
    await expect.poll(() => dialog.getByRole('alert').textContent()).toMatch(/at least \d+ characters/)

    await attempt(OLD, NEW)
    await dialog.waitFor({ state: 'detached' })
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'password was changed' }).count()).toBe(1)

    // This browser is still signed in; the other one is sent to sign in again.
    await page.reload()
    await page.getByRole('button', { name: 'Change password' }).waitFor()
    expect(new URL(page.url()).pathname).toMatch(/^\/console\/projects\//)
    await other.reload()
    await other.waitForURL(/\/signin\?/)

    // Only the new password signs in.
    await other.getByLabel('Email').fill(CAROL)
    await other.getByLabel('Password').fill(OLD)
    await other.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(async () => (await other.textContent('body')) ?? '').toMatch(/wrong|incorrect|not match/i)
    const fresh = await browser.newContext()
    await signIn(await fresh.newPage(), server, CAROL, NEW)

    expect(dialogs).toEqual([])
    expect(problems).toEqual([])
    await Promise.all([here.close(), elsewhere.close(), fresh.close()])
  })
})
