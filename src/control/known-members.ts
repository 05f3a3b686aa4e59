import { invalid } from '../core/errors.js'
import { FEDERATION_PREFIX, type Member } from '../iam/members.js'
import type { PolicyBody } from '../iam/policy.js'
import type { StoreTx } from '../store/store.js'

/**
 * A grant to an account that does not exist is a typo that fails silently (Cloud IAM refuses it
 * too): local users, groups and service accounts must exist when a policy or a group first names
 * them. A disabled account still exists; `deleted:` members, `domain:`, allUsers and
 * allAuthenticatedUsers name no account to look up, and federated principals are known only to
 * their identity provider (the CLI says that these cannot be checked) — but their workforce pool,
 * Postern's own, must exist.
 */
export async function assertMembersExist(tx: StoreTx, members: Iterable<Member>): Promise<void> {
  for (const member of members) {
    const problem = await whyUnknown(tx, member)
    if (problem) throw invalid(problem)
  }
}

/** Only the members a write adds are checked: a policy may go on naming what it named before. */
export function addedMembers(current: PolicyBody, incoming: PolicyBody): Member[] {
  const before = new Set(current.bindings.flatMap((b) => b.members))
  return [...new Set(incoming.bindings.flatMap((b) => b.members))].filter((m) => !before.has(m))
}

async function whyUnknown(tx: StoreTx, member: Member): Promise<string | undefined> {
  const colon = member.indexOf(':')
  const kind = member.slice(0, colon)
  const rest = member.slice(colon + 1)
  switch (kind) {
    case 'user':
      return (await tx.getUser(rest)) ? undefined : `User ${rest} does not exist (member '${member}'). Check the spelling, or create the user first: postern users create ${rest}`
    case 'group':
      return (await tx.getGroup(rest)) ? undefined : `Group ${rest} does not exist (member '${member}'). Check the spelling, or create the group first: postern groups create ${rest}`
    case 'serviceAccount': {
      if (await tx.getServiceAccount(rest)) return undefined
      // A Google Cloud account pasted by habit: no name created here could ever be it.
      const google = /^([^@]+)@([^.]+)\.iam\.gserviceaccount\.com$/.exec(rest)
      if (google) return `Service account ${rest} is Google Cloud's, not Postern's (member '${member}'): Postern's are NAME@PROJECT.iam.postern.internal, e.g. serviceAccount:${google[1]}@${google[2]}.iam.postern.internal after: postern iam service-accounts create ${google[1]} --project=${google[2]}`
      return `Service account ${rest} does not exist (member '${member}'). Check the spelling, or create it first: postern iam service-accounts create NAME`
    }
    case 'principal':
    case 'principalSet': {
      // The subject or group is the identity provider's to know; the pool is Postern's own.
      const pool = rest.slice(2 + FEDERATION_PREFIX.length).split('/')[0]!
      return (await tx.getWorkforcePool(pool)) ? undefined : `Workforce pool ${pool} does not exist (member '${member}'). Check the spelling, or create it first: postern iam workforce-pools create ${pool}`
    }
    default:
      return undefined
  }
}
