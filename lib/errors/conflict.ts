/**
 * Where git left the first merge conflict in a file's text: its `<<<<<<<` marker, when a
 * `>>>>>>>` marker follows it (both at the start of a line). Undefined when there is none.
 */
export function mergeConflict(text: string): { offset: number; line: number } | undefined {
  const offset = text.search(/^<<<<<<<(?: |$)/m);
  if (offset < 0 || !/^>>>>>>>(?: |$)/m.test(text.slice(offset))) return undefined;
  return { offset, line: text.slice(0, offset).split("\n").length };
}

/** What to do about a merge conflict in a file the user edits (config, code). */
export const CONFLICT_HINT = "git left a merge conflict here: keep the lines you want, delete the <<<<<<<, ======= and >>>>>>> markers, then run the command again";
