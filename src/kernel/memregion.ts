/**
 * memregion_alloc / memregion_free (drivers/base/memregion.c): one IDA of memory region ids that
 * nvdimm regions (nd_region_create) and hmem devices (hmem_register_device) share; regionN and
 * hmem.N take their N from it, in the order the drivers register (fixture softres-with-pmem: 6.12
 * numbers the NVDIMM region0 and hmem.1, 6.1 hmem.0 and region1).
 */
export class MemregionIda {
  private readonly used = new Set<number>();

  /** memregion_alloc: the lowest free id (ida_alloc). */
  memregionAlloc(): number {
    let id = 0;
    while (this.used.has(id)) id++;
    this.used.add(id);
    return id;
  }

  /** memregion_free */
  memregionFree(id: number): void {
    this.used.delete(id);
  }
}
