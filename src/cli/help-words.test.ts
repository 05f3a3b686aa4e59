import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { helpArgv, helpRequest, splitGlobalFlags } from './help-words.js'

describe('helpArgv', () => {
  const program = new Command('postern')
  const services = program.command('services')
  services.command('list')
  services.command('describe <service>')
  program.command('config').command('get <property>').alias('get-value')

  it('asks for the help of the command the words name, however deep', () => {
    expect(helpArgv([], program)).toEqual(['--help'])
    expect(helpArgv(['services'], program)).toEqual(['services', '--help'])
    expect(helpArgv(['services', 'list'], program)).toEqual(['services', 'list', '--help'])
    expect(helpArgv(['config', 'get-value'], program)).toEqual(['config', 'get-value', '--help'])
  })

  it('stops at the first word that names no command, for commander to refuse as unknown', () => {
    expect(helpArgv(['nosuch'], program)).toEqual(['nosuch'])
    expect(helpArgv(['services', 'lst', 'more'], program)).toEqual(['services', 'lst'])
  })

  it('takes words after a command without subcommands as its arguments: its help, never a run', () => {
    expect(helpArgv(['services', 'describe', 'hello'], program)).toEqual(['services', 'describe', '--help'])
  })

  describe('helpRequest', () => {
    const withFlags = new Command('postern').option('--project <projectId>').option('--format <format>').option('-q, --quiet')
    withFlags.command('services').command('list')

    it('finds help after global flags, with or without =, and keeps the flags in front', () => {
      expect(helpRequest(['--project', 'p', 'help', 'services', 'list'], withFlags)).toEqual(['--project', 'p', 'services', 'list', '--help'])
      expect(helpRequest(['--format=json', 'help'], withFlags)).toEqual(['--format=json', '--help'])
      expect(helpRequest(['-q', 'help', 'services'], withFlags)).toEqual(['-q', 'services', '--help'])
      expect(helpRequest(['help', '--project=p', 'services', 'list'], withFlags)).toEqual(['--project=p', 'services', 'list', '--help'])
    })

    it('leaves alone a line whose first word is not help, and a flag value that happens to be "help"', () => {
      expect(helpRequest(['services', 'list'], withFlags)).toBeUndefined()
      expect(helpRequest(['services', 'help', 'list'], withFlags)).toBeUndefined()
      expect(helpRequest(['--project', 'help', 'services', 'list'], withFlags)).toBeUndefined()
      expect(helpRequest(['--fromat=json', 'help'], withFlags)).toBeUndefined()
    })

    it('says where the first word that is no global flag stands, a flag value named like a command notwithstanding', () => {
      expect(splitGlobalFlags(['--project', 'run', 'run', 'services', 'list'], withFlags)).toEqual({ globals: ['--project', 'run'], words: ['run', 'services', 'list'], first: 2 })
      expect(splitGlobalFlags(['-q'], withFlags).first).toBe(1)
    })
  })
})
