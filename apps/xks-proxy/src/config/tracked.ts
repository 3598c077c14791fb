/**
 * Strict reading of a parsed TOML document: every key the parser reads is marked as consumed, and
 * {@link refuseUnread} refuses every key nobody read, naming it with its table and suggesting the
 * nearest key that table accepts.
 *
 * The accepted keys of a table are exactly the keys the parser asks for (present or not), so a key
 * added to the parser later is known without a list to keep in step. Reads go through a Proxy on
 * each table: `t["key"]`, `str(t, "key", ...)`, destructuring, anything that reads the property.
 * `in`, `Object.keys` and the like do not mark a key.
 */
import { bad, type Table } from "./fields.js";

interface TableState {
  /** "" for the document, "server", "server.tls", "stores[0].credentials[1]"... */
  path: string;
  /** How the table is written in TOML: "[server.tls]", "[[stores]]", "the top level". */
  header: string;
  raw: Table;
  read: Set<string>;
}

export interface Tracker {
  /** The document, tracked. */
  readonly doc: Table;
  /** Every table reached so far, in the order first reached. */
  readonly tables: TableState[];
}

const OBJECT_PROTO_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Wraps `doc` so that reads are recorded. Top-level keys in `opaque` are handed out untracked: their
 * sections are validated strictly by their own parser (e.g. `[salesforce]`, salesforce/config.ts).
 */
export function track(doc: Table, opaque: ReadonlySet<string> = new Set()): Tracker {
  const tables: TableState[] = [];
  const proxies = new WeakMap<object, unknown>();

  const wrapTable = (raw: Table, path: string, header: string): Table => {
    const known = proxies.get(raw);
    if (known) return known as Table;
    const state: TableState = { path, header, raw, read: new Set() };
    tables.push(state);
    const p = new Proxy(raw, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver) as unknown;
        if (typeof key !== "string" || OBJECT_PROTO_KEYS.has(key)) return v;
        state.read.add(key);
        if (path === "" && opaque.has(key)) return v;
        return wrapValue(v, path === "" ? key : `${path}.${key}`, header === "" ? key : `${header.replace(/^\[+|\]+$/g, "")}.${key}`);
      },
    });
    proxies.set(raw, p);
    return p;
  };

  /** Tables and arrays of tables come back tracked; everything else as it is. */
  const wrapValue = (v: unknown, path: string, dotted: string): unknown => {
    if (isTable(v)) return wrapTable(v, path, `[${dotted}]`);
    if (Array.isArray(v) && v.some(isTable)) {
      const known = proxies.get(v);
      if (known) return known;
      const p = new Proxy(v, {
        get(target, key, receiver) {
          const e = Reflect.get(target, key, receiver) as unknown;
          if (typeof key === "string" && /^\d+$/.test(key) && isTable(e)) return wrapTable(e, `${path}[${key}]`, `[[${dotted}]]`);
          return e;
        },
      });
      proxies.set(v, p);
      return p;
    }
    return v;
  };

  return { doc: wrapTable(doc, "", ""), tables };
}

/** Levenshtein distance (small strings only: config keys). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The accepted key nearest to `key`, when it is near enough to be a likely typo. */
export function nearest(key: string, accepted: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const k = key.toLowerCase();
  for (const a of accepted) {
    const d = editDistance(k, a.toLowerCase());
    if (d < bestD || (d === bestD && best !== undefined && a < best)) {
      best = a;
      bestD = d;
    }
  }
  // a prefix/suffix slip (allowed_principal → allowed_principals, client_ca → client_ca_file) counts as near
  if (best !== undefined && (bestD <= Math.max(2, Math.floor(key.length / 3)) || best.startsWith(key) || key.startsWith(best))) return best;
  return undefined;
}

/**
 * Refuses the first key of any tracked table that nobody read (ERR_CONFIG_INVALID): its table, the
 * nearest accepted key, and the keys the table accepts.
 */
export function refuseUnread(tracker: Tracker, format = "configuration"): void {
  for (const t of tracker.tables) {
    for (const key of Object.keys(t.raw)) {
      if (t.read.has(key)) continue;
      const accepted = [...t.read].sort();
      const near = nearest(key, accepted);
      const isTableValue = isTable(t.raw[key]) || (Array.isArray(t.raw[key]) && (t.raw[key] as unknown[]).some(isTable));
      const what =
        t.path === "" ? (isTableValue ? `unknown table [${key}]` : `unknown top-level key '${key}'`) : `unknown key '${key}' in ${t.header} (${t.path}.${key})`;
      const hint = near !== undefined ? `; did you mean '${near}'?` : "";
      const list = accepted.length > 0 ? ` Accepted ${t.path === "" ? "at the top level" : `in ${t.header}`}: ${accepted.join(", ")}.` : "";
      bad(`${format}: ${what}${hint} Unknown keys are refused, never ignored.${list}`);
    }
  }
}
