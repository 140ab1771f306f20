/**
 * Says where a plugin's module failed to load. Node puts the file and line of
 * a CommonJS syntax error on the first line of the stack, but not those of an
 * ES module (the stack starts at Node's own loader), and a transpiling loader
 * (jest) reports its own. So on a syntax error the main file is parsed once
 * more with `node --check` (this Node, parse only, nothing runs), whose
 * message names file and line; when the main file parses, the error is in a
 * file it requires, and the stack's location is used. Paths are shown
 * relative to the package, so the message carries no server paths.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

const LOCATION = /^(?:file:\/\/)?(\/[^\n]*?|[A-Za-z]:\\[^\n]*?):(\d+)$/m;

/** `where` as the plugin author knows it: relative to the package, or just the file name when outside it. */
function shown(file: string, pluginDir: string): string {
  const rel = path.relative(pluginDir, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.basename(file);
}

interface Where {
  file: string;
  line: number;
  message?: string;
}

function locationIn(text: string | undefined): Where | null {
  const m = text ? LOCATION.exec(text.split('\n').slice(0, 3).join('\n')) : null;
  return m ? { file: decodeURIComponent(m[1]), line: Number(m[2]) } : null;
}

/** Runs `node --check` on a file: null when it parses, else the location and Node's message. */
function checkSyntax(file: string): Promise<Where | null> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--check', file], { timeout: 10_000, env: {} }, (err, _stdout, stderr) => {
      const where = err ? locationIn(stderr) : null;
      const message = /^SyntaxError: (.*)$/m.exec(stderr ?? '')?.[1];
      resolve(where && { ...where, ...(message ? { message } : {}) });
    });
  });
}

/** "SyntaxError at index.js:3: Unexpected token ';'" for a syntax error, else the error's own message. */
export async function describeLoadError(e: unknown, pluginDir: string, mainFile: string): Promise<string> {
  // Whatever the loader threw (a transpiler's own error included), a main file Node cannot parse is a syntax error.
  const parsed = await checkSyntax(mainFile);
  if (!(e instanceof Error))
    return parsed
      ? `SyntaxError at ${shown(parsed.file, pluginDir)}:${parsed.line}: ${parsed.message ?? String(e)}`
      : String(e);
  if (!parsed && e.name !== 'SyntaxError') return e.message;
  const where = parsed ?? locationIn(e.stack);
  const message = where?.message ?? e.message.split('\n')[0];
  return where
    ? `SyntaxError at ${shown(where.file, pluginDir)}:${where.line}: ${message}`
    : `SyntaxError: ${message}`;
}
