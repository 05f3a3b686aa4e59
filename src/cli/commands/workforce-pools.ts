import { readFileSync, writeFileSync } from 'node:fs'
import { Option, type Command } from 'commander'
import { parseDurationSeconds } from '../../core/duration.js'
import type { Cli } from '../context.js'
import { CliError, usageError } from '../errors.js'
import { LOGIN_CONFIG_TYPE, type LoginConfigFile } from '../federated-login.js'
import { withListFlags } from '../list-flags.js'
import { credentialConfig } from '../credential-config.js'
import { discover } from '../oidc-client.js'

/**
 * `postern iam workforce-pools …`: pools, their OIDC providers, and the login
 * configuration file a federated user signs in with (`postern auth login --login-config`).
 */
interface Pool {
  name: string
  displayName: string
  sessionDuration: string
  disabled: boolean
}

interface Provider {
  name: string
  displayName: string
  oidc: { issuerUri: string; clientId: string }
  disabled: boolean
  consoleSignIn: boolean
  audience: string
}

interface PoolFlags {
  displayName?: string
  description?: string
  sessionDuration?: string
  disabled?: boolean
}

interface ProviderFlags {
  workforcePool: string
  displayName?: string
  description?: string
  issuerUri?: string
  clientId?: string
  jwkJsonPath?: string
  attributeMapping?: string
  attributeCondition?: string
  consoleSignIn?: boolean
  disabled?: boolean
}

const poolPath = (pool: string) => `/v1/workforcePools/${encodeURIComponent(pool)}`
const providerPath = (pool: string, provider: string) => `${poolPath(pool)}/providers/${encodeURIComponent(provider)}`

/**
 * 'postern.subject=assertion.sub,postern.groups=assertion.groups' → an object. An expression may
 * itself hold commas (a function call), so only a comma before the next TARGET= separates.
 */
export function parseMappingFlag(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of text.split(/,(?=\s*(?:postern\.[a-z_]+|attribute\.[a-z0-9_]+)\s*=)/)) {
    const eq = part.indexOf('=')
    if (eq < 0) throw usageError(`--attribute-mapping: '${part}' is not TARGET=EXPRESSION (e.g. postern.subject=assertion.sub).`)
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return out
}

function poolBody(o: PoolFlags): Record<string, unknown> {
  return {
    ...(o.displayName !== undefined && { displayName: o.displayName }),
    ...(o.description !== undefined && { description: o.description }),
    ...(o.sessionDuration !== undefined && { sessionDuration: `${parseDurationSeconds(o.sessionDuration, '--session-duration')}s` }),
    ...(o.disabled !== undefined && { disabled: o.disabled }),
  }
}

function providerBody(o: ProviderFlags): Record<string, unknown> {
  let jwksJson: string | undefined
  if (o.jwkJsonPath) {
    try {
      jwksJson = readFileSync(o.jwkJsonPath, 'utf8')
    } catch (err) {
      throw new CliError(`Cannot read --jwk-json-path ${o.jwkJsonPath}: ${(err as Error).message}`)
    }
  }
  const oidc = { ...(o.issuerUri !== undefined && { issuerUri: o.issuerUri }), ...(o.clientId !== undefined && { clientId: o.clientId }), ...(jwksJson !== undefined && { jwksJson }) }
  return {
    ...(o.displayName !== undefined && { displayName: o.displayName }),
    ...(o.description !== undefined && { description: o.description }),
    ...(Object.keys(oidc).length && { oidc }),
    ...(o.attributeMapping !== undefined && { attributeMapping: parseMappingFlag(o.attributeMapping) }),
    ...(o.attributeCondition !== undefined && { attributeCondition: o.attributeCondition }),
    ...(o.consoleSignIn !== undefined && { consoleSignIn: o.consoleSignIn }),
    ...(o.disabled !== undefined && { disabled: o.disabled }),
  }
}

/** workforcePools/POOL/providers/PROVIDER (gcloud's locations/global/ before it too) → [POOL, PROVIDER]. */
function providerOf(name: string): [string, string] {
  const m = /^(?:locations\/global\/)?workforcePools\/([^/]+)\/providers\/([^/]+)$/.exec(name)
  if (!m) throw usageError(`Expected workforcePools/POOL/providers/PROVIDER, got '${name}'.`)
  return [m[1]!, m[2]!]
}

function poolFlags(cmd: Command): Command {
  return cmd
    .option('--display-name <text>', 'a display name')
    .option('--description <text>', 'a description')
    .option('--session-duration <duration>', 'how long a federated sign-in lasts, 15m to 12h (e.g. 3600s, 8h); default 1h')
    .option('--disabled', 'disable the pool: its principals cannot sign in and their tokens stop')
    .option('--no-disabled', 'enable the pool')
}

function providerFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--workforce-pool <pool>', 'the workforce pool')
    .option('--display-name <text>', 'a display name (shown as "Sign in with …")')
    .option('--description <text>', 'a description')
    .option('--issuer-uri <url>', 'the OpenID Provider’s issuer, exactly as its tokens name it')
    .option('--client-id <id>', 'the client id registered at the provider (the aud of its ID tokens)')
    .option('--jwk-json-path <file>', 'a JWKS file to verify tokens with, instead of fetching the provider’s')
    .option('--attribute-mapping <mapping>', 'TARGET=CEL,… e.g. postern.subject=assertion.sub,postern.groups=assertion.groups,attribute.dept=assertion.dept')
    .option('--attribute-condition <cel>', 'a CEL condition an identity must meet, e.g. "\'eng\' in assertion.groups"')
    .option('--console-sign-in', 'offer this provider on the sign-in page')
    .option('--no-console-sign-in', 'do not offer it there')
    .option('--disabled', 'disable the provider')
    .option('--no-disabled', 'enable the provider')
}

export function registerWorkforcePools(iam: Command, cli: Cli): void {
  const pools = iam.command('workforce-pools').description('Workforce identity federation: people from an external identity provider.')

  poolFlags(pools.command('create <pool>').description('Create a workforce pool.')).action(async (pool: string, o: PoolFlags, cmd: Command) => {
    const created = await cli.api().call('POST', `/v1/workforcePools?workforcePoolId=${encodeURIComponent(pool)}`, poolBody(o))
    cli.status(`Created workforce pool [${pool}].`, cmd)
    cli.printResource(cmd, created)
  })
  withListFlags(pools.command('list')).description('List workforce pools.').action(async (_o, cmd: Command) => {
    const { workforcePools: rows = [] } = await cli.api().call<{ workforcePools?: Pool[] }>('GET', '/v1/workforcePools')
    cli.printList(cmd, rows, [
      { header: 'NAME', value: (p) => p.name },
      { header: 'DISPLAY NAME', value: (p) => p.displayName },
      { header: 'SESSION', value: (p) => p.sessionDuration },
      { header: 'DISABLED', value: (p) => String(p.disabled) },
    ])
  })
  pools.command('describe <pool>').description('Show a workforce pool.').action(async (pool: string, _o, cmd: Command) => {
    cli.printResource(cmd, await cli.api().call('GET', poolPath(pool)))
  })
  poolFlags(pools.command('update <pool>').description('Update a workforce pool.')).action(async (pool: string, o: PoolFlags, cmd: Command) => {
    const body = poolBody(o)
    if (Object.keys(body).length === 0) throw usageError('Nothing to update: give --display-name, --description, --session-duration or --[no-]disabled.')
    const updated = await cli.api().call('PATCH', poolPath(pool), body)
    cli.status(`Updated workforce pool [${pool}].`, cmd)
    cli.printResource(cmd, updated)
  })
  pools.command('delete <pool>').description('Delete a workforce pool, its providers, and every sign-in through it.').action(async (pool: string, _o, cmd: Command) => {
    await cli.confirm(cmd, `Workforce pool [${pool}] will be deleted, with its providers and federated subjects.`)
    await cli.api().call('DELETE', poolPath(pool))
    cli.status(`Deleted workforce pool [${pool}].`, cmd)
  })

  pools
    .command('create-login-config <provider>')
    .description('Write the file `postern auth login --login-config` signs in with (provider: workforcePools/POOL/providers/PROVIDER).')
    .requiredOption('--output-file <file>', 'where to write it')
    .option('--scopes <scopes>', 'scopes to ask the identity provider for, comma separated', 'openid,email,profile')
    .action(async (name: string, o: { outputFile: string; scopes: string }, cmd: Command) => {
      const provider = await cli.api().call<Provider>('GET', providerPath(...providerOf(name)))
      const server = cli.server()
      const config: LoginConfigFile = {
        type: LOGIN_CONFIG_TYPE,
        server,
        audience: provider.audience,
        issuer_uri: provider.oidc.issuerUri,
        client_id: provider.oidc.clientId,
        scopes: o.scopes.split(/[ ,]+/).filter(Boolean),
        token_url: `${server}/oauth2/token`,
      }
      writeFileSync(o.outputFile, JSON.stringify(config, null, 2) + '\n')
      cli.status(`Created login configuration file [${o.outputFile}] for [${name}].\nSign in with: postern auth login --login-config ${o.outputFile}`, cmd)
    })

  pools
    .command('create-cred-config <provider>')
    .description('Write an external_account credential file Google’s client libraries load as it is (provider: workforcePools/POOL/providers/PROVIDER).')
    .requiredOption('--output-file <file>', 'where to write it')
    .requiredOption('--credential-source-file <path>', 'the file the code’s identity provider token is read from, at each exchange')
    .addOption(new Option('--credential-source-type <type>', 'how that file holds the token: text (the token alone, the default) or json').choices(['text', 'json']))
    .option('--credential-source-field-name <field>', 'with --credential-source-type=json: the field that holds the token')
    .option('--service-account <email>', 'trade the federated token for this service account’s access token (needs roles/iam.serviceAccountTokenCreator on it)')
    .action(async (name: string, o: { outputFile: string; credentialSourceFile: string; credentialSourceType?: 'text' | 'json'; credentialSourceFieldName?: string; serviceAccount?: string }, cmd: Command) => {
      const [pool, id] = providerOf(name)
      const api = cli.api()
      // The provider and the account are looked up so that a typo fails here, not in the code that loads the file.
      const [provider, { issuer, token_endpoint: tokenUrl }] = await Promise.all([
        api.call<Provider>('GET', providerPath(pool, id)),
        discover(cli.server()),
        o.serviceAccount !== undefined && api.call('GET', `/v1/projects/-/serviceAccounts/${encodeURIComponent(o.serviceAccount)}`),
      ])
      const config = credentialConfig({
        audience: provider.audience,
        // From the issuer, as a key file's token_uri: what code elsewhere reaches this Postern by.
        tokenUrl,
        apiBase: issuer,
        sourceFile: o.credentialSourceFile,
        sourceType: o.credentialSourceType,
        sourceFieldName: o.credentialSourceFieldName,
        serviceAccount: o.serviceAccount,
      })
      writeFileSync(o.outputFile, JSON.stringify(config, null, 2) + '\n')
      cli.status(`Created credential configuration file [${o.outputFile}].`, cmd)
    })

  const providers = pools.command('providers').description('OpenID Connect providers of a workforce pool.')
  providerFlags(providers.command('create-oidc <provider>').description('Create an OIDC provider.')).action(async (id: string, o: ProviderFlags, cmd: Command) => {
    if (!o.issuerUri || !o.clientId || !o.attributeMapping) throw usageError('create-oidc needs --issuer-uri, --client-id and --attribute-mapping (at least postern.subject=…).')
    const created = await cli.api().call('POST', `${poolPath(o.workforcePool)}/providers?workforcePoolProviderId=${encodeURIComponent(id)}`, providerBody(o))
    cli.status(`Created workforce pool provider [${id}].`, cmd)
    cli.printResource(cmd, created)
  })
  withListFlags(providers.command('list'))
    .description('List the providers of a workforce pool.')
    .requiredOption('--workforce-pool <pool>', 'the workforce pool')
    .action(async (o: { workforcePool: string }, cmd: Command) => {
      const { workforcePoolProviders: rows = [] } = await cli.api().call<{ workforcePoolProviders?: Provider[] }>('GET', `${poolPath(o.workforcePool)}/providers`)
      cli.printList(cmd, rows, [
        { header: 'NAME', value: (p) => p.name },
        { header: 'ISSUER', value: (p) => p.oidc.issuerUri },
        { header: 'CLIENT ID', value: (p) => p.oidc.clientId },
        { header: 'CONSOLE', value: (p) => String(p.consoleSignIn) },
        { header: 'DISABLED', value: (p) => String(p.disabled) },
      ])
    })
  providers
    .command('describe <provider>')
    .description('Show a provider.')
    .requiredOption('--workforce-pool <pool>', 'the workforce pool')
    .action(async (id: string, o: { workforcePool: string }, cmd: Command) => {
      cli.printResource(cmd, await cli.api().call('GET', providerPath(o.workforcePool, id)))
    })
  providerFlags(providers.command('update <provider>').description('Update a provider.')).action(async (id: string, o: ProviderFlags, cmd: Command) => {
    const body = providerBody(o)
    if (Object.keys(body).length === 0) throw usageError('Nothing to update.')
    const updated = await cli.api().call('PATCH', providerPath(o.workforcePool, id), body)
    cli.status(`Updated workforce pool provider [${id}].`, cmd)
    cli.printResource(cmd, updated)
  })
  providers
    .command('delete <provider>')
    .description('Delete a provider; its principals’ tokens stop.')
    .requiredOption('--workforce-pool <pool>', 'the workforce pool')
    .action(async (id: string, o: { workforcePool: string }, cmd: Command) => {
      await cli.confirm(cmd, `Provider [${id}] of workforce pool [${o.workforcePool}] will be deleted.`)
      await cli.api().call('DELETE', providerPath(o.workforcePool, id))
      cli.status(`Deleted workforce pool provider [${id}].`, cmd)
    })
}
