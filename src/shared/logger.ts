/** Plain, greppable log lines on stderr: time, level, scope, message, extras as JSON. */
import type { LogLevel } from './config';

export interface Logger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(level: LogLevel = 'info', scope = 'promptgen'): Logger {
  const write = (at: LogLevel, message: string, extra?: Record<string, unknown>) => {
    if (ORDER[at] < ORDER[level]) return;
    const tail = extra && Object.keys(extra).length ? ' ' + JSON.stringify(extra) : '';
    process.stderr.write(
      `${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} [${scope}] ${message}${tail}\n`,
    );
  };
  return {
    debug: (m, e) => write('debug', m, e),
    info: (m, e) => write('info', m, e),
    warn: (m, e) => write('warn', m, e),
    error: (m, e) => write('error', m, e),
    child: (s) => createLogger(level, `${scope}:${s}`),
  };
}
