/**
 * Checks that the configured port can be bound before anything slow starts
 * (database, migrations, plugins), so a busy port is one clear line instead of
 * a stack from the WebSocket server after a minute of start-up.
 */
import * as net from 'node:net';

export class PortUnavailableError extends Error {
  constructor(
    readonly port: number,
    readonly host: string,
    readonly code: string,
  ) {
    super(
      code === 'EADDRINUSE'
        ? `port ${port} on ${host} is already in use (another server?); set PORT to a free port (e.g. PORT=${port + 1}) or stop the other process`
        : `cannot listen on ${host}:${port} (${code}); set PORT and HOST to an address this process may bind`,
    );
    this.name = 'PortUnavailableError';
  }
}

/** Resolves when `host:port` could be bound just now; port 0 (any free port) always can. */
export async function assertPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(new PortUnavailableError(port, host, err.code ?? 'unknown error')),
    );
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
