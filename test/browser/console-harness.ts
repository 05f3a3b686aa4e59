import { copyFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { PosternProcess } from '../support/server.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const ARTIFACTS = join(ROOT, 'test-artifacts')

/** Debian's Chromium (apt-get install chromium); the tests never download a browser. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.POSTERN_TEST_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

/**
 * A page that records what must never happen in the console: a JavaScript dialog (an injected
 * `alert`), an uncaught error, or a Content-Security-Policy violation.
 */
export async function watchedPage(context: BrowserContext): Promise<{ page: Page; dialogs: string[]; problems: string[] }> {
  const page = await context.newPage()
  const dialogs: string[] = []
  const problems: string[] = []
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`)
    void d.dismiss()
  })
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`)
  })
  // A string, not a function: the tests are compiled without the DOM library.
  await page.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (e) => console.error('Refused (CSP ' + e.violatedDirective + '): ' + e.blockedURI))",
  })
  return { page, dialogs, problems }
}

/** Signs in through /signin the way a person does, starting from a console URL. */
export async function signIn(page: Page, server: PosternProcess, email: string, password: string, path = '/console'): Promise<void> {
  await page.goto(server.controlUrl + path)
  await signInAt(page, email, password)
  await page.waitForURL((url) => url.pathname.startsWith('/console/projects/'))
}

/** Fills in Postern's /signin as a person does, once the page is there or on its way (sent by the console or by a service). */
export async function signInAt(page: Page, email: string, password: string): Promise<void> {
  await page.waitForURL((u) => u.pathname === '/signin')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** Saves a screenshot for reviewers; with UPDATE_DOCS_SCREENSHOTS=1 also refreshes the README's copy. */
export async function screenshot(page: Page, name: string, docsName?: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const file = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  if (docsName && process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
    const target = join(ROOT, 'docs', docsName)
    mkdirSync(dirname(target), { recursive: true })
    copyFileSync(file, target)
  }
}
