/**
 * @file Writing a file so that a reader sees the old bytes or the new ones, never a part: the data
 * goes to a temporary file beside the target, is flushed to the disk, and renamed over it. Every
 * file fusegrad writes (a model, a plot, benchmark results) goes through here.
 */
import { closeSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

/**
 * Writes `data` to `file` atomically. On any failure (a full disk, a folder removed meanwhile) the
 * temporary file is removed, the old file keeps its bytes, and the error is thrown.
 */
export function writeAtomic(file: string, data: string | Uint8Array): void {
  // Through a symbolic link, the file it points at is replaced, as a plain write would replace it.
  let target = file;
  try {
    target = realpathSync(file);
  } catch {
    // No such file yet: written where it is named.
  }
  const dir = dirname(target);
  // Same folder, so the rename never crosses file systems; a name a person can recognise if a
  // SIGKILL (which nothing can catch) leaves one behind.
  const temp = join(dir, `.${basename(target)}.${process.pid}-${counter++}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', 0o666);
    // The old file's permissions stay (a model made read-only to others stays so).
    const mode = statSync(target, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined) chmodSync(temp, mode & 0o7777);
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, target);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  // The rename itself is durable once the folder is flushed; a folder that cannot be opened for
  // that (some file systems) still holds the new file.
  try {
    const d = openSync(dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // Not every file system lets a folder be flushed.
  }
}

/** Whether two paths name one file (through links and relative paths alike); false when either is missing. */
export function sameFile(a: string, b: string): boolean {
  const sa = statSync(a, { throwIfNoEntry: false });
  const sb = statSync(b, { throwIfNoEntry: false });
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}
