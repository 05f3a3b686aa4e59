import { describe, expect, it } from 'vitest'
import { pathSetupHint, userPath } from './command-hint.js'

const has = (...files: string[]) => (f: string) => files.includes(f)

describe('pathSetupHint', () => {
  it('says nothing when the user\'s PATH finds postern', () => {
    expect(pathSetupHint({ PATH: '/usr/bin:/home/a/.npm/bin' }, '/src/postern', has('/home/a/.npm/bin/postern'))).toBeUndefined()
  })

  it('ignores what npm run-script prepended', () => {
    const env = { npm_lifecycle_event: 'start', PATH: '/src/postern/node_modules/.bin:/src/node_modules/.bin:/node_modules/.bin:/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin:/usr/bin:/bin' }
    expect(userPath(env)).toEqual(['/usr/bin', '/bin'])
    expect(pathSetupHint(env, '/src/postern', has('/src/postern/node_modules/.bin/postern'))).toBe('export PATH="/src/postern/node_modules/.bin:$PATH"')
  })

  it('keeps a user\'s own node_modules/.bin that follows npm\'s additions', () => {
    const env = { npm_lifecycle_event: 'start', PATH: '/src/postern/node_modules/.bin:/node_modules/.bin:/x/node-gyp-bin:/src/postern/node_modules/.bin:/usr/bin' }
    expect(pathSetupHint(env, '/src/postern', has('/src/postern/node_modules/.bin/postern'))).toBeUndefined()
  })

  it('falls back to an alias, quoting what the shell would split', () => {
    expect(pathSetupHint({ PATH: '/usr/bin' }, "/home/a/my 'work'/postern", has())).toBe(`alias postern='/home/a/my '\\''work'\\''/postern/bin/postern.js'`)
  })
})
