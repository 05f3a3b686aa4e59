import { emailMember, type Member } from './members.js'

/**
 * Group membership as data: group email → its direct members. Answers "which groups is this
 * member in, transitively" and "would this edge close a cycle". Pure; the directory rebuilds the
 * reverse index when memberships change.
 */
export class GroupIndex {
  private readonly parents = new Map<Member, Set<string>>()

  constructor(readonly members: ReadonlyMap<string, ReadonlySet<Member>>) {
    for (const [group, direct] of members) {
      for (const m of direct) {
        let set = this.parents.get(m)
        if (!set) this.parents.set(m, (set = new Set()))
        set.add(group)
      }
    }
  }

  /** Every group that holds `member`, directly or through nested groups (cycle-safe). */
  groupsOf(member: Member): Set<string> {
    const found = new Set<string>()
    const queue: Member[] = [member]
    for (let i = 0; i < queue.length; i++) {
      for (const g of this.parents.get(queue[i]!) ?? []) {
        if (found.has(g)) continue
        found.add(g)
        queue.push(emailMember('group', g))
      }
    }
    return found
  }

  /** Adding `member` to `group` closes a cycle when `group` is `member` or already inside it. */
  wouldCreateCycle(group: string, member: Member): boolean {
    if (!member.startsWith('group:')) return false
    const inner = member.slice('group:'.length)
    return inner === group || this.groupsOf(emailMember('group', group)).has(inner)
  }
}
