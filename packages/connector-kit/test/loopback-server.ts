import { createServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A `node:http` upstream on 127.0.0.1 that can go down and come back on the same port (a fault). */
export interface LoopbackServer {
  /** The port, fixed by the first `start()`. */
  readonly port: number;
  /** Listens (on a free port the first time, on the same one afterwards). */
  start(): Promise<void>;
  /** Drops every connection and stops listening. */
  stop(): Promise<void>;
}

export function loopbackServer(handler: RequestListener): LoopbackServer {
  let server: Server | undefined;
  let port = 0;
  const sockets = new Set<Socket>();
  return {
    get port() {
      return port;
    },
    async start() {
      const s = createServer(handler);
      s.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
      port = (s.address() as AddressInfo).port;
      server = s;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
