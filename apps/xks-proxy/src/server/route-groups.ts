/**
 * The route groups a server mounts (Salesforce today), each from its registration: mounted at
 * start, and on reload added, re-read, moved or removed in the reload's prepare-then-commit steps.
 * A section switched off (`enabled = false`) is validated and not mounted.
 */
import { checkRouteOverlaps, type ProxyConfig } from "../config/index.js";
import type { Logger } from "../logger.js";
import type { RouteGroup, RouteGroupContext, RouteGroupFactory, RouteGroupRegistration } from "../route-group.js";

interface Mounted {
  section: string;
  group: RouteGroup;
  /** The group's prefix with a trailing "/", refreshed when a reload moves it. */
  under: string;
}

function underOf(g: RouteGroup): string {
  return g.pathPrefix.endsWith("/") ? g.pathPrefix : `${g.pathPrefix}/`;
}

/** What a prepared reload changes; nothing is visible until `commit`. */
export interface PreparedGroups {
  /** Swaps the groups in (synchronous); returns the removed ones, for the caller to close after the commit. */
  commit(): RouteGroup[];
  /** Closes the groups built for a reload that is not committed. */
  abort(): Promise<void>;
}

export class RouteGroups {
  private mounted: Mounted[] = [];

  constructor(
    private readonly registrations: readonly RouteGroupRegistration[],
    private readonly ctx: RouteGroupContext,
    private readonly logger: Logger,
    /** Factories that replace a registration's own, by section (tests). */
    private readonly factories: Record<string, RouteGroupFactory> = {},
  ) {}

  /** The sections `c` mounts (present and switched on), by section name. */
  private wanted(c: ProxyConfig): Map<string, { reg: RouteGroupRegistration; raw: unknown }> {
    const out = new Map<string, { reg: RouteGroupRegistration; raw: unknown }>();
    for (const reg of this.registrations) {
      const raw = c.routeGroups[reg.section];
      if (raw !== undefined && reg.enabled(raw)) out.set(reg.section, { reg, raw });
    }
    return out;
  }

  private create(reg: RouteGroupRegistration, raw: unknown): Promise<RouteGroup> {
    return (this.factories[reg.section] ?? reg.create)(raw, this.ctx);
  }

  /** Mounts `c`'s groups (start). On failure the groups already built are closed by the caller's cleanup ({@link close}). */
  async mount(c: ProxyConfig): Promise<void> {
    for (const reg of this.registrations) {
      const raw = c.routeGroups[reg.section];
      if (raw === undefined || reg.enabled(raw)) continue;
      // switched off: still validated (a typo is refused now, not when it is switched on), and said
      reg.validate(raw, c.source.dir);
      this.logger.log("info", { msg: "route-group-disabled", group: reg.section, reason: reg.disabledNote });
    }
    for (const [section, { reg, raw }] of this.wanted(c)) {
      const group = await this.create(reg, raw);
      this.mounted.push({ section, group, under: underOf(group) });
    }
    // the prefixes the groups really serve (a group may normalise its section's value)
    checkRouteOverlaps(c.stores, this.prefixes());
  }

  /** Builds the groups `next` adds and re-reads the kept ones; checks the prefixes they will serve. */
  async prepare(next: ProxyConfig): Promise<PreparedGroups> {
    const wanted = this.wanted(next);
    const added: Mounted[] = [];
    const abort = async (): Promise<void> => {
      for (const a of added) await a.group.close().catch(() => undefined);
    };
    try {
      for (const [section, { reg, raw }] of wanted) {
        if (this.mounted.some((m) => m.section === section)) continue;
        added.push({ section, group: await this.create(reg, raw), under: "" });
      }
      for (const { section, group } of this.mounted) {
        const w = wanted.get(section);
        if (w !== undefined && group.reload) await group.reload(w.raw);
      }
      const kept = this.mounted.filter((m) => wanted.has(m.section));
      checkRouteOverlaps(
        next.stores,
        [...kept, ...added].map(({ section, group }) => ({ section, pathPrefix: group.pathPrefix })),
      );
    } catch (err) {
      await abort();
      throw err;
    }
    return {
      commit: () => {
        const removed = this.mounted.filter((m) => !wanted.has(m.section));
        const mounted = [...this.mounted.filter((m) => wanted.has(m.section)), ...added];
        for (const m of mounted) m.under = underOf(m.group);
        this.mounted = mounted;
        return removed.map((r) => r.group);
      },
      abort,
    };
  }

  /** The group serving `path`, if any. */
  find(path: string): RouteGroup | undefined {
    for (const m of this.mounted) if (path === m.group.pathPrefix || path.startsWith(m.under)) return m.group;
    return undefined;
  }

  /** True when no group is mounted (the fast path then skips the lookup). */
  get empty(): boolean {
    return this.mounted.length === 0;
  }

  /** Name and prefix of each mounted group (log lines). */
  list(): Array<{ name: string; pathPrefix: string }> {
    return this.mounted.map((m) => ({ name: m.group.name, pathPrefix: m.group.pathPrefix }));
  }

  private prefixes(): Array<{ section: string; pathPrefix: string }> {
    return this.mounted.map(({ section, group }) => ({ section, pathPrefix: group.pathPrefix }));
  }

  async close(): Promise<void> {
    const all = this.mounted;
    this.mounted = [];
    for (const m of all) await m.group.close().catch(() => undefined);
  }
}
