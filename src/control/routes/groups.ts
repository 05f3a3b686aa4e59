import * as z from 'zod'
import { description, displayName } from '../../core/display-text.js'
import { PosternError, invalid, notFound } from '../../core/errors.js'
import { newUid } from '../../core/ids.js'
import { parseWith } from '../../core/validate.js'
import { GroupIndex } from '../../iam/groups.js'
import { parseEmail, parseMember, type Member } from '../../iam/members.js'
import { ORGANIZATION } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import type { GroupRecord } from '../../store/records.js'
import type { StoreTx } from '../../store/store.js'
import { guardGroupChange } from '../access-test-guard.js'
import { allowRead, mutate, ok, rfc3339, type Handler } from '../handler.js'
import { assertMembersExist } from '../known-members.js'
import { retireIdentity } from '../retire-identity.js'

const CreateGroup = z.strictObject({ email: z.string().max(254), displayName: displayName(100).optional(), description: description(512).optional() })
const AddMember = z.strictObject({ member: z.string().max(300) })

const view = (g: GroupRecord, members?: string[]) => ({
  name: `groups/${g.email}`,
  email: g.email,
  uid: g.uid,
  displayName: g.displayName,
  description: g.description,
  createTime: rfc3339(g.createTime),
  ...(members && { members }),
})

const groupResource = (email: string) => `groups/${email}`

/** Groups hold users, service accounts and other groups (DESIGN §1). */
function parseGroupMember(raw: string): Member {
  const member = parseMember(raw)
  if (!/^(user|serviceAccount|group):/.test(member)) throw invalid(`A group holds user:, serviceAccount: or group: members, not '${member}'.`)
  return member
}

async function existingGroup(tx: StoreTx, email: string): Promise<GroupRecord> {
  const g = await tx.getGroup(email)
  if (!g) throw notFound(`Group '${email}' not found.`)
  return g
}

export function groupRoutes(r: Router<Handler>): void {
  r.add('GET', '/v1/groups', async (c) => {
    allowRead(c, 'postern.groups.list', ORGANIZATION)
    return ok({ groups: (await c.deps.store.listGroups()).map((g) => view(g)) })
  })

  r.add('POST', '/v1/groups', async (c) => {
    const body = parseWith(CreateGroup, await c.json())
    const email = parseEmail(body.email, 'group email')
    const group: GroupRecord = { email, uid: newUid(), displayName: body.displayName ?? '', description: body.description ?? '', createTime: c.deps.clock() }
    await mutate(c, { method: 'groups.create', resource: groupResource(email), permission: 'postern.groups.create', checkOn: ORGANIZATION }, async (tx) => {
      if (!(await tx.insertGroup(group))) throw new PosternError('ALREADY_EXISTS', `Group '${email}' already exists.`)
      await tx.recordChange('group', email)
    })
    return ok(view(group, []))
  })

  r.add('GET', '/v1/groups/{email}', async (c) => {
    const email = parseEmail(c.params.email!, 'group email')
    allowRead(c, 'postern.groups.get', ORGANIZATION)
    const g = await existingGroup(c.deps.store, email)
    const members = (await c.deps.store.listMemberships(email)).map((m) => m.member)
    return ok(view(g, members))
  })

  r.add('DELETE', '/v1/groups/{email}', async (c) => {
    const email = parseEmail(c.params.email!, 'group email')
    await mutate(c, { method: 'groups.delete', resource: groupResource(email), permission: 'postern.groups.delete', checkOn: ORGANIZATION }, async (tx) => {
      const g = await existingGroup(tx, email)
      await guardGroupChange(tx, c.deps.clock(), async () => {
        await tx.deleteGroup(email)
        await retireIdentity(tx, 'group', email, g.uid)
        await tx.recordChange('group', email)
      })
    })
    return ok({})
  })

  r.add('POST', '/v1/groups/{email}/members', async (c) => {
    const email = parseEmail(c.params.email!, 'group email')
    const member = parseGroupMember(parseWith(AddMember, await c.json()).member)
    await mutate(c, { method: 'groups.addMember', resource: groupResource(email), permission: 'postern.groups.update', checkOn: ORGANIZATION, details: { member } }, async (tx) => {
      await existingGroup(tx, email)
      await assertMembersExist(tx, [member])
      if (member.startsWith('group:')) {
        const all = await tx.listMemberships()
        const index = new Map<string, Set<Member>>()
        for (const m of all) {
          let set = index.get(m.group)
          if (!set) index.set(m.group, (set = new Set()))
          set.add(m.member as Member)
        }
        if (new GroupIndex(index).wouldCreateCycle(email, member)) {
          throw invalid(`Adding ${member} to group:${email} would create a cycle of groups.`)
        }
      }
      await guardGroupChange(tx, c.deps.clock(), async () => {
        await tx.addMembership({ group: email, member })
        await tx.recordChange('group', email)
      })
    })
    return ok(view(await existingGroup(c.deps.store, email), (await c.deps.store.listMemberships(email)).map((m) => m.member)))
  })

  r.add('DELETE', '/v1/groups/{email}/members/{member*}', async (c) => {
    const email = parseEmail(c.params.email!, 'group email')
    const member = parseGroupMember(c.params.member!)
    await mutate(c, { method: 'groups.removeMember', resource: groupResource(email), permission: 'postern.groups.update', checkOn: ORGANIZATION, details: { member } }, async (tx) => {
      await existingGroup(tx, email)
      await guardGroupChange(tx, c.deps.clock(), async () => {
        if (!(await tx.removeMembership({ group: email, member }))) throw notFound(`${member} is not a member of group:${email}.`)
        await tx.recordChange('group', email)
      })
    })
    return ok({})
  })
}
