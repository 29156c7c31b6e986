/**
 * SPARSEMEM (mm/sparse.c, include/linux/mmzone.h): memory sections of 128 MiB and, from v5.3, their
 * 2 MiB sub-sections; which of them are present, who added them, and pfn_valid().
 */
import { RunMap } from './runmap.ts';

export const PAGE_SHIFT = 12;
/** SECTION_SIZE_BITS on x86-64. */
export const SECTION_SIZE_BITS = 27;
/** The bytes of a memory section, 1 << SECTION_SIZE_BITS: 128 MiB on x86-64. */
export const SECTION_SIZE = 1n << BigInt(SECTION_SIZE_BITS);
/** PAGES_PER_SECTION (include/linux/mmzone.h): 4 KiB pages per section, 32768 on x86-64. */
export const PAGES_PER_SECTION = 1 << (SECTION_SIZE_BITS - PAGE_SHIFT);
/** SUBSECTION_SHIFT 21: 2 MiB. */
export const PAGES_PER_SUBSECTION = 512;
export const SUBSECTIONS_PER_SECTION = PAGES_PER_SECTION / PAGES_PER_SUBSECTION;

/** pfn_to_section_nr */
export const pfnToSection = (pfn: number): number => Math.floor(pfn / PAGES_PER_SECTION);
/** section_nr_to_pfn */
export const sectionToPfn = (section: number): number => section * PAGES_PER_SECTION;
/** The sub-section index of a pfn (subsection_map_index, counted from pfn 0). */
export const pfnToSubsection = (pfn: number): number => Math.floor(pfn / PAGES_PER_SUBSECTION);

/** Who added the sections present at boot. */
export const BOOT = { boot: true };

/** The present (sub-)sections, keyed by sub-section index; the value is who hot-added them. */
export class Sparse {
  private readonly active = new RunMap<object>();

  /** pfn_valid with SPARSEMEM_VMEMMAP: the pfn's section is present. */
  pfnValid(pfn: number): boolean {
    const sec = pfnToSection(pfn);
    return this.active.firstIn(sec * SUBSECTIONS_PER_SECTION, (sec + 1) * SUBSECTIONS_PER_SECTION) !== null;
  }

  /** Any sub-section of [startPfn, endPfn) is active (fill_subsection_map's -EEXIST). */
  anyActive(startPfn: number, endPfn: number): boolean {
    return this.active.firstIn(pfnToSubsection(startPfn), pfnToSubsection(endPfn - 1) + 1) !== null;
  }

  /** The first pfn of [startPfn, endPfn) (sub-section aligned) whose sub-section is active, or endPfn: a run of absent memory in one lookup. */
  firstActivePfn(startPfn: number, endPfn: number): number {
    if (endPfn <= startPfn) return endPfn;
    const r = this.active.firstIn(pfnToSubsection(startPfn), pfnToSubsection(endPfn - 1) + 1);
    return r === null ? endPfn : Math.max(startPfn, r.start * PAGES_PER_SUBSECTION);
  }

  /** section_activate: mark [startPfn, endPfn) present, added by `owner`. */
  markPresent(startPfn: number, endPfn: number, owner: object): void {
    this.active.set(pfnToSubsection(startPfn), pfnToSubsection(endPfn - 1) + 1, owner);
  }

  /** section_deactivate: [startPfn, endPfn) is no longer present. */
  markAbsent(startPfn: number, endPfn: number): void {
    this.active.delete(pfnToSubsection(startPfn), pfnToSubsection(endPfn - 1) + 1);
  }

  /** early_section: the section has boot memory (its memmap was populated whole at boot and stays). */
  earlySection(pfn: number): boolean {
    const sec = pfnToSection(pfn);
    for (const r of this.active.all()) {
      if (r.value === BOOT && r.start < (sec + 1) * SUBSECTIONS_PER_SECTION && r.end > sec * SUBSECTIONS_PER_SECTION) return true;
    }
    return false;
  }

  /** Who hot-added pfn's sub-section (BOOT at boot), or undefined when it is not present. */
  ownerOf(pfn: number): object | undefined {
    return this.active.get(pfnToSubsection(pfn));
  }

  /** Present sections as runs [first, last], boot RAM and device sections apart. */
  presentSections(): Array<[number, number]> {
    const out: Array<[number, number, boolean]> = [];
    for (const r of this.active.all()) {
      const a = Math.floor(r.start / SUBSECTIONS_PER_SECTION);
      const b = Math.floor((r.end - 1) / SUBSECTIONS_PER_SECTION);
      const boot = r.value === BOOT;
      const last = out.at(-1);
      if (last && last[2] === boot && last[1] >= a - 1) last[1] = Math.max(last[1], b);
      else out.push([a, b, boot]);
    }
    return out.map(([a, b]) => [a, b]);
  }
}
