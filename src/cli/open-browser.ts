import { spawn } from 'node:child_process'

/**
 * Opens a URL in the user's browser: $BROWSER when set (a ':'-separated list of commands, `%s`
 * standing for the URL, as Python's webbrowser module reads it), else the platform's opener.
 * Resolves false when nothing could be started or the opener reported failure quickly, so the
 * caller can fall back to the device flow.
 */
export async function openBrowser(url: string, env: Record<string, string | undefined>, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  const candidates = env.BROWSER
    ? env.BROWSER.split(':').map((c) => c.trim()).filter(Boolean)
    : platform === 'darwin' ? ['open'] : platform === 'win32' ? ['rundll32 url.dll,FileProtocolHandler'] : ['xdg-open']
  for (const command of candidates) {
    const words = command.split(/\s+/)
    const args = words.slice(1).map((w) => w.replace('%s', url))
    if (!command.includes('%s')) args.push(url)
    if (await launch(words[0]!, args)) return true
  }
  return false
}

/** Started and either still running after a moment (a browser) or exited 0 (an opener). */
function launch(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    let child
    try {
      child = spawn(file, args, { stdio: 'ignore', detached: true })
    } catch {
      resolve(false)
      return
    }
    const timer = setTimeout(() => {
      child.unref()
      resolve(true)
    }, 3000)
    child.once('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve(code === 0)
    })
  })
}
