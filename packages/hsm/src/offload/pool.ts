/**
 * A small pool of worker threads that run AES-GCM calls (Init + Encrypt/Decrypt) off the event loop.
 *
 * pkcs11js runs C_Encrypt/C_Decrypt on the libuv threadpool when asked (`*Async`), but every `*Init`
 * is synchronous: behind a token that takes a network round trip per call, the Init alone held the
 * event loop for that round trip, so one process served at most ~1/latency requests a second.
 * Here the main thread only posts a message; a worker makes both calls on the pooled session the
 * caller acquired, and answers. One job per worker at a time: a worker stuck in a call that does
 * not return holds only its own job (the caller's timeout answers, the session stays out of the pool
 * until the call returns).
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type pkcs11js from "pkcs11js";
import { CiopError } from "@ciop/core";
import { WORKER_SOURCE } from "./worker-source.js";

/** A failed call in a worker, shaped like what pkcs11js throws (message "CKR_X:NN", numeric code). */
export class OffloadedCallError extends Error {
  /** The PKCS#11 function that failed, e.g. "C_EncryptInit". */
  readonly fn: string;
  readonly code: number;
  constructor(fn: string, message: string, code: number, name: string) {
    super(message);
    this.name = name;
    this.fn = fn;
    this.code = code;
  }
}

interface Job {
  id: number;
  enc: boolean;
  mech: number;
  ptype: number;
  ivBits: number | undefined;
  tagBits: number;
  ivLen: number;
  aadLen: number;
  inLen: number;
  outLen: number;
  buf: ArrayBuffer;
}

/** A key-state read (see worker-source.ts): a search, an attribute read or a session check. */
export interface ReadJob {
  id: number;
  read: "find" | "attrs" | "sessionInfo";
  session: Buffer;
  template?: pkcs11js.Template;
  max?: number;
  h?: Buffer;
  types?: number[];
}

interface Pending {
  job: Job | ReadJob;
  /** The caller's IV buffer: the token may fill it (token-generated IVs), so it is copied back (GCM jobs). */
  iv: Buffer | undefined;
  resolve: (out: unknown) => void;
  reject: (err: unknown) => void;
}

interface Answer {
  /** The worker has loaded the module (its first message). */
  ready?: boolean;
  id: number;
  ok: boolean;
  len?: number;
  out?: ArrayBuffer;
  buf?: ArrayBuffer;
  /** A read's result (handles, attributes). */
  result?: unknown;
  fn?: string;
  message?: string;
  code?: number;
  name?: string;
}

interface Slot {
  worker: Worker;
  busy: Pending | undefined;
  /** Settles once the worker has loaded the module, or failed to. */
  ready: Promise<void>;
  onReady: () => void;
}

let pkcs11jsPath: string | undefined;

/** Where pkcs11js's entry point is (the workers load it by path; their `require` starts from the cwd). */
function pkcs11jsEntry(): string {
  pkcs11jsPath ??= createRequire(import.meta.url).resolve("pkcs11js");
  return pkcs11jsPath;
}

/** GCM parameter fields as pkcs11js takes them (CK_PARAMS_GCM / _AES_GCM / _v240). */
interface GcmParam {
  type: number;
  iv: Buffer;
  ivBits?: number;
  aad?: Buffer;
  tagBits?: number;
}

/**
 * Worker threads for the async AES-GCM path of one open token. Workers start on first use (up to
 * `size`); {@link close} terminates them.
 */
export class GcmWorkers {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly library: string,
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new CiopError("ERR_USAGE", `the GCM worker count must be a whole number ≥ 1, not ${size}`);
  }

  /** Calls that are running in a worker now (diagnostics, tests). */
  get busy(): number {
    let n = 0;
    for (const s of this.slots) if (s.busy) n++;
    return n;
  }

  /**
   * C_EncryptInit/C_DecryptInit with `mech` (CKM_AES_GCM and its parameter) and `key`, then
   * C_Encrypt/C_Decrypt of `input` into an `outLen`-byte buffer, on `session`. Resolves with the
   * output (a view of its length); the IV the token may have written goes back into `mech`'s IV
   * buffer. Rejects with an {@link OffloadedCallError} naming the function that failed.
   */
  run(encrypt: boolean, session: Buffer, mech: pkcs11js.Mechanism, key: Buffer, input: Buffer, outLen: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new CiopError("ERR_USAGE", "this Hsm has been closed"));
    const param = mech.parameter as unknown as GcmParam;
    const iv = param.iv;
    const aad = param.aad;
    const aadLen = aad === undefined ? -1 : aad.length;
    const total = 16 + iv.length + Math.max(0, aadLen) + input.length;
    // a fresh buffer (never a slice of node's pool), transferred: no copy of the input stays here
    const buf = new ArrayBuffer(total);
    const all = Buffer.from(buf);
    session.copy(all, 0);
    key.copy(all, 8);
    let at = 16;
    at += iv.copy(all, at);
    if (aad) at += aad.copy(all, at);
    input.copy(all, at);
    const job: Job = {
      id: this.nextId++,
      enc: encrypt,
      mech: mech.mechanism,
      ptype: param.type,
      ivBits: param.ivBits,
      tagBits: param.tagBits ?? 128,
      ivLen: iv.length,
      aadLen,
      inLen: input.length,
      outLen,
      buf,
    };
    return new Promise<Buffer>((resolve, reject) => {
      const p: Pending = { job, iv, resolve: resolve as (out: unknown) => void, reject };
      const slot = this.idleSlot();
      if (slot) this.start(slot, p);
      else this.queue.push(p);
    });
  }

  /**
   * One key-state read in a worker, on `session` (a pooled session the caller holds): resolves
   * with what pkcs11js returns (handles or attributes, as Uint8Arrays); rejects with an
   * {@link OffloadedCallError}.
   */
  read(job: Omit<ReadJob, "id">): Promise<unknown> {
    if (this.closed) return Promise.reject(new CiopError("ERR_USAGE", "this Hsm has been closed"));
    return new Promise<unknown>((resolve, reject) => {
      const p: Pending = { job: { ...job, id: this.nextId++ }, iv: undefined, resolve, reject };
      const slot = this.idleSlot();
      if (slot) this.start(slot, p);
      else this.queue.push(p);
    });
  }

  /** Terminates every worker; queued calls are refused. A worker stuck in a call ends when the call returns. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.queue.splice(0)) {
      if ("buf" in p.job) zero(p.job.buf);
      p.reject(new CiopError("ERR_USAGE", "this Hsm has been closed"));
    }
    for (const s of this.slots.splice(0)) {
      s.worker.unref();
      void s.worker.terminate().catch(() => undefined);
    }
  }

  /**
   * Starts every worker now and resolves once each has loaded the module (or failed to): a
   * server calls it at start, so its first requests do not wait for threads to start.
   */
  async warm(): Promise<void> {
    while (!this.closed && this.slots.length < this.size) this.addSlot();
    await Promise.all(this.slots.map((s) => s.ready));
  }

  private idleSlot(): Slot | undefined {
    for (const s of this.slots) if (!s.busy) return s;
    return this.slots.length < this.size ? this.addSlot() : undefined;
  }

  private addSlot(): Slot {
    let onReady = (): void => undefined;
    const ready = new Promise<void>((r) => (onReady = r));
    const slot: Slot = { worker: this.spawn(), busy: undefined, ready, onReady };
    this.slots.push(slot);
    slot.worker.on("message", (a: Answer) => this.answered(slot, a));
    const fail = (err: unknown): void => this.died(slot, err);
    slot.worker.on("error", fail);
    slot.worker.on("exit", (code) => fail(new Error(`GCM worker thread exited (code ${code})`)));
    return slot;
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { pkcs11js: pkcs11jsEntry(), library: this.library } });
    w.unref();
    return w;
  }

  private start(slot: Slot, p: Pending): void {
    slot.busy = p;
    // a call in flight keeps the process alive; an idle worker does not
    slot.worker.ref();
    slot.worker.postMessage(p.job, "buf" in p.job ? [p.job.buf] : []);
  }

  private answered(slot: Slot, a: Answer): void {
    if (a.ready) {
      slot.onReady();
      return;
    }
    const p = slot.busy;
    if (!p || p.job.id !== a.id) return;
    slot.busy = undefined;
    slot.worker.unref();
    if (!("buf" in p.job)) {
      if (a.ok) p.resolve(a.result);
      else p.reject(new OffloadedCallError(a.fn || p.job.read, a.message ?? "worker read failed", a.code ?? 0, a.name ?? "Error"));
    } else if (a.ok && a.out && a.buf) {
      // the IV region: what the token wrote, or the caller's own bytes
      const back = Buffer.from(a.buf, 16, p.job.ivLen);
      back.copy(p.iv!);
      zero(a.buf);
      p.resolve(Buffer.from(a.out, 0, a.len ?? 0));
    } else {
      p.reject(new OffloadedCallError(a.fn ?? "C_EncryptInit", a.message ?? "GCM worker call failed", a.code ?? 0, a.name ?? "Error"));
    }
    this.next(slot);
  }

  /** A worker that failed or exited: its call is answered as an error, and it is replaced on demand. */
  private died(slot: Slot, err: unknown): void {
    slot.onReady();
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    const p = slot.busy;
    slot.busy = undefined;
    if (p)
      p.reject(
        new OffloadedCallError(
          "buf" in p.job ? (p.job.enc ? "C_Encrypt" : "C_Decrypt") : p.job.read,
          `GCM worker thread failed: ${(err as Error)?.message ?? String(err)}`,
          0,
          "Error",
        ),
      );
    if (this.closed) return;
    const q = this.queue.shift();
    if (q) {
      const s = this.idleSlot();
      if (s) this.start(s, q);
      else this.queue.unshift(q);
    }
  }

  private next(slot: Slot): void {
    if (this.closed) return;
    const q = this.queue.shift();
    if (q) this.start(slot, q);
  }
}

function zero(b: ArrayBuffer): void {
  if (b.byteLength > 0) new Uint8Array(b).fill(0);
}
