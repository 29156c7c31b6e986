/**
 * Zonelists (mm/page_alloc.c build_all_zonelists): rebuilt when online_pages populates a zone or
 * offline_pages empties one, printing what 6.x prints then (fixtures kmem-*, numa-kmem on 6.12.117 and 6.1.192):
 * each node's fallback order, the zonelist count with vm_total_pages, and policy_zone, which only rises
 * (check_highest_zone: the highest non-movable zone ever populated).
 */
import type { Kernel } from './kernel.ts';
import { bootZone, ZONES, ZONE_MOVABLE } from './memmap.ts';

export class Zonelists {
  /** policy_zone */
  private policyZone = 0;

  constructor(private readonly k: Kernel) {}

  /** Boot's build: policy_zone from the zones boot RAM populates. */
  boot(): void {
    for (const [s, e] of this.k.ramRanges) if (e > s) this.raise(Math.max(bootZone(s), bootZone(e - 1)));
  }

  /** policy_zone now, for {@link restore}. */
  save(): number {
    return this.policyZone;
  }

  /** Back to a saved policy_zone (the model's own failures, HostMemoryError, leave no trace). */
  restore(policyZone: number): void {
    this.policyZone = policyZone;
  }

  private raise(zone: number): void {
    if (zone > this.policyZone && zone !== ZONE_MOVABLE) this.policyZone = zone;
  }

  /**
   * build_all_zonelists(NULL): each node's fallback order (build_zonelists, node_load shared by the one
   * build), the zonelist count (nr_online_nodes) and vm_total_pages as the model counts the pages it manages.
   */
  build(populated: readonly number[], totalPages: number): void {
    for (const z of populated) this.raise(z);
    const log = this.k.log;
    const numa = this.k.numa;
    const load = new Map<number, number>();
    for (const nid of numa.zonelistNodes()) log.printk('info', `Fallback order for Node ${nid}: ${numa.zonelistOf(nid, load).map((n) => `${n} `).join('')}`);
    log.printk('info', `Built ${numa.online.size} zonelists, mobility grouping on.  Total pages: ${totalPages}`);
    log.printk('info', `Policy zone: ${ZONES[this.policyZone]}`);
  }
}
