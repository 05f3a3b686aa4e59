import { describe, expect, it } from 'vitest'
import { CliError } from './errors.js'
import { serviceRef } from './service-ref.js'

describe('serviceRef', () => {
  it('takes a name in the given project', () => {
    expect(serviceRef('my-project', 'hello')).toEqual({ project: 'my-project', service: 'hello' })
  })

  it('takes a full resource name, gcloud’s with a location too, and its project', () => {
    expect(serviceRef('my-project', 'projects/other/services/hello')).toEqual({ project: 'other', service: 'hello' })
    expect(serviceRef('my-project', 'projects/other/locations/us-central1/services/hello')).toEqual({ project: 'other', service: 'hello' })
  })

  it('refuses a service URL with the name to give instead (a usage error, exit 2)', () => {
    const refusal = (() => {
      try {
        serviceRef('my-project', 'http://hello.team-a.localhost:7080/path')
      } catch (err) {
        return err as CliError
      }
    })()
    expect(refusal).toBeInstanceOf(CliError)
    expect(refusal!.exitCode).toBe(2)
    expect(refusal!.message).toBe("'http://hello.team-a.localhost:7080/path' is a URL; give the service's name, as with gcloud. Did you mean hello --project team-a?")
    expect(() => serviceRef('p', 'https://run.example')).toThrow(/^'https:\/\/run\.example' is a URL; give the service's name, as with gcloud\.$/)
  })

  it('refuses, in the server’s words, a name that would reach another route than the service’s', () => {
    for (const name of ['', '.', '..', '../../v1/roles', 'projects/x/services/', 'a/b']) {
      expect(() => serviceRef('p', name), JSON.stringify(name)).toThrow(`ERROR: (INVALID_ARGUMENT) '${name}' is not a valid service name: a service name has 2–50 characters`)
    }
  })

  it('leaves anything else for the server to judge as a name', () => {
    expect(serviceRef('p', 'Hello World')).toEqual({ project: 'p', service: 'Hello World' })
    expect(serviceRef('p', 'a%2Fb')).toEqual({ project: 'p', service: 'a%2Fb' })
  })
})
