/**
 * Per-connection pacing of node's HTTP server (the path for everything the fast path hands off,
 * and for every request with `[server] fast_path = false`).
 *
 * node's parser emits every request of a read at once, so one client that pipelines a read's worth
 * of small requests (hundreds in 64 KiB) gets them all handled in one event-loop turn while every
 * other connection waits. Here a connection's requests are started at most `maxPerTurn` per turn;
 * the rest wait in the connection's own queue for the next turns, and while more than
 * `maxQueued` wait, the connection is not read (node's parser then gets nothing more from it).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Pace {
  /** Requests started since the last turn boundary of this connection. */
  started: number;
  queue: Array<() => void>;
  /** A turn boundary (setImmediate) is pending. */
  scheduled: boolean;
  /** This connection's reads are paused (by us) until its queue shrinks. */
  paused: boolean;
}

export function paceNodeRequests(handler: Handler, maxPerTurn = 8, maxQueued = 64): Handler {
  const paces = new WeakMap<object, Pace>();
  const turn = (socket: IncomingMessage["socket"], p: Pace): void => {
    p.scheduled = false;
    p.started = 0;
    while (p.started < maxPerTurn && p.queue.length > 0) {
      p.started++;
      p.queue.shift()!();
    }
    if (p.paused && p.queue.length <= maxQueued / 2) {
      p.paused = false;
      if (!socket.destroyed) socket.resume();
    }
    // the next boundary: a setImmediate queued from a setImmediate callback runs in the next turn
    if (p.queue.length > 0 || p.started > 0) schedule(socket, p);
  };
  const schedule = (socket: IncomingMessage["socket"], p: Pace): void => {
    if (p.scheduled) return;
    p.scheduled = true;
    setImmediate(() => turn(socket, p));
  };
  return (req, res) => {
    const socket = req.socket;
    let p = paces.get(socket);
    if (p === undefined) {
      p = { started: 0, queue: [], scheduled: false, paused: false };
      paces.set(socket, p);
    }
    if (p.queue.length === 0 && p.started < maxPerTurn) {
      p.started++;
      schedule(socket, p);
      handler(req, res);
      return;
    }
    p.queue.push(() => {
      if (!socket.destroyed) handler(req, res);
    });
    schedule(socket, p);
    if (!p.paused && p.queue.length > maxQueued) {
      p.paused = true;
      socket.pause();
    }
  };
}
