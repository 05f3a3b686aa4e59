/**
 * Suggestions for what people type from habit. Commander already suggests near spellings
 * (`--audience` → `--audiences`); these cover what spelling distance misses: a flag that names
 * the same thing inside a longer one (`--audiences` → `--custom-audiences`), and gcloud's group
 * name (`gcloud run services list` is `postern services list`).
 */
export function suggestOption(unknown: string, flags: readonly { long: string; takesValue: boolean }[]): string | undefined {
  const word = unknown.replace(/^--?/, '').replace(/=.*$/, '').toLowerCase()
  const stem = word.replace(/s$/, '')
  if (stem.length < 4) return undefined
  const name = (flag: string) => flag.replace(/^--(no-)?/, '')
  // A flag holding the very word beats one holding its stem; one taking a value beats a switch
  // when a value was given; then the plainest, so that --audiences suggests --custom-audiences,
  // not --strict-audience or --add-custom-audiences.
  const rank = (f: { long: string; takesValue: boolean }) => (name(f.long).includes(word) ? 0 : 1000) + (unknown.includes('=') && !f.takesValue ? 100 : 0) + f.long.length
  return flags.filter((f) => f.long !== unknown && name(f.long).includes(stem)).sort((a, b) => rank(a) - rank(b))[0]?.long
}

/**
 * `postern run services list` → `postern services list`, when what follows `run` is a postern
 * command; without gcloud's flags that say where a service runs, so the suggestion works as typed.
 */
export function suggestForGcloudGroup(argv: readonly string[], commands: readonly string[], leadingFlags: readonly string[] = []): string | undefined {
  // gcloud's release tracks too: `gcloud beta run services proxy` is how the proxy first shipped.
  const rest = RELEASE_TRACKS.has(argv[0] ?? '') ? argv.slice(1) : argv
  const command = rest[0] === 'run' ? rest.slice(1) : rest !== argv ? rest : []
  if (command[0] === undefined || !commands.includes(command[0])) return undefined
  return ['postern', ...[...leadingFlags, ...withoutGcloudOnlyOptions(command)].map(shellQuote)].join(' ')
}

const RELEASE_TRACKS: ReadonlySet<string> = new Set(['alpha', 'beta'])

/**
 * What to do instead, for gcloud commands Postern has no counterpart of: `run deploy` (Postern
 * fronts an upstream it does not build or run) and `auth application-default` (Google's local
 * credentials for code; Postern's are a metadata server or a key file). Undefined for the rest.
 */
export function explainGcloudOnlyCommand(argv: readonly string[], leadingFlags: readonly string[] = []): string | undefined {
  const postern = (...words: string[]) => ['postern', ...leadingFlags.map(shellQuote), ...words].join(' ')
  if (argv[0] === 'run' && argv[1] === 'deploy') {
    const given = argv[2]
    const name = given !== undefined && /^[a-z][a-z0-9-]*$/.test(given) ? given : 'SERVICE'
    const lines = [
      "postern does not build or run code, so it has no 'run deploy': run the service where you like and put Postern in front of it:",
      `  ${postern('services', 'create', name, '--upstream=URL')}`,
      'A new service is private, as --no-allow-unauthenticated makes it.',
    ]
    if (argv.includes('--allow-unauthenticated')) {
      lines.push('For --allow-unauthenticated, grant the invoker role to allUsers:', `  ${postern('services', 'add-iam-policy-binding', name, '--member=allUsers', '--role=roles/run.invoker')}`)
    }
    return lines.join('\n')
  }
  if (argv[0] === 'init') {
    return [
      "postern has no 'init': point the CLI at your Postern, sign in and choose a project, as gcloud init asks you to:",
      `  ${postern('config', 'set', 'server', 'URL')}`,
      `  ${postern('auth', 'login')}`,
      `  ${postern('config', 'set', 'project', 'PROJECT_ID')}`,
    ].join('\n')
  }
  if (argv[0] === 'auth' && argv[1] === 'application-default') {
    return [
      "postern has no 'auth application-default': Application Default Credentials are Google's.",
      "Code gets Postern's tokens from a metadata server, which Google's client libraries find through GCE_METADATA_HOST:",
      `  ${postern('metadata-server')}`,
      "or from a service account's key file:",
      `  ${postern('iam', 'service-accounts', 'keys', 'create', 'key.json', '--iam-account=EMAIL')}`,
      `This CLI itself signs in with ${postern('auth', 'login')}.`,
    ].join('\n')
  }
  return undefined
}

/**
 * `postern config set project=my-project` → `postern config set project my-project`. gcloud, too,
 * takes a property and its value as two words and refuses this form, so Postern refuses it as
 * well (rather than quietly accepting a line that fails when run under gcloud) and shows the form
 * that works, instead of commander's "missing required argument 'value'". Only when `=` joins
 * the one word given: a property name never holds `=`, so the split is certain.
 */
export function suggestForPropertyEquals(argv: readonly string[], leadingFlags: readonly string[] = []): string | undefined {
  if (argv[0] !== 'config' || argv[1] !== 'set') return undefined
  const words = argv.slice(2).filter((w) => !w.startsWith('-'))
  const eq = words.length === 1 ? words[0]!.indexOf('=') : -1
  if (eq <= 0) return undefined
  const flags = argv.slice(2).filter((w) => w.startsWith('-'))
  return ['postern', ...leadingFlags, 'config', 'set', words[0]!.slice(0, eq), words[0]!.slice(eq + 1), ...flags].map(shellQuote).join(' ')
}

/**
 * gcloud's flags that Postern has no use for, and why: where a service runs, which every gcloud
 * run command takes, and the quota project gcloud requires of a workforce pool's credential file.
 */
const GCLOUD_ONLY = new Map([
  ['--region', 'Postern has no regions: a service is named by its project and name. Leave --region out.'],
  ['--platform', 'Postern is the one platform. Leave --platform out.'],
  [
    '--workforce-pool-user-project',
    "Postern bills no project, and Google's client libraries refuse a file whose workforce_pool_user_project goes with an audience other than Google's. Leave --workforce-pool-user-project out.",
  ],
])

/**
 * gcloud's properties that people set by habit and Postern keeps none of, and why: `config set
 * run/region us-central1` is refused (there is nothing it would change) with the reason, as the
 * `--region` flag is, rather than only the list of properties.
 */
const GCLOUD_ONLY_PROPERTIES = new Map([
  ['run/region', 'Postern has no regions: a service is named by its project and name.'],
  ['compute/region', 'Postern has no regions: a service is named by its project and name.'],
  ['compute/zone', 'Postern has no zones: a service is named by its project and name.'],
  ['run/platform', 'Postern is the one platform.'],
])

/** Why a property is one of gcloud's that Postern has no use for, if it is. */
export function explainGcloudOnlyProperty(name: string): string | undefined {
  return GCLOUD_ONLY_PROPERTIES.get(name.toLowerCase())
}

/** Why an unknown option is one of gcloud's that Postern has no use for, if it is. */
export function explainGcloudOnlyOption(unknown: string): string | undefined {
  return GCLOUD_ONLY.get(unknown.replace(/=.*$/, ''))
}

/**
 * What to type instead of a gcloud flag that Postern answers another way, if it is one. gcloud's
 * `--account` runs one command as another signed-in account; here a command runs as its
 * configuration's account, so the way is to make that account the active one (or to run the
 * command with a configuration whose account it is). Not among GCLOUD_ONLY: the flag changes
 * what a command does, so `postern run …` suggestions must not drop it silently.
 */
export function insteadOfGcloudOption(unknown: string): string | undefined {
  const eq = unknown.indexOf('=')
  const flag = eq < 0 ? unknown : unknown.slice(0, eq)
  if (flag !== '--account') return undefined
  const email = eq < 0 || eq === unknown.length - 1 ? 'EMAIL' : shellQuote(unknown.slice(eq + 1).replace(/\p{Cc}/gu, '?'))
  return `Postern has no --account flag: a command runs as the active account. To make another signed-in account (postern auth list) the active one: postern config set account ${email}; or run the command with --configuration=NAME, a configuration whose account it is.`
}

function withoutGcloudOnlyOptions(words: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    if (GCLOUD_ONLY.has(word)) i++ // and its value, the next word
    else if (!explainGcloudOnlyOption(word)) out.push(word)
  }
  return out
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}
