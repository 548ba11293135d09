// "Did you mean": the closest known word to a mistyped command or flag, by edit distance.

/** Farthest a guess may be from what was typed (edits), and never more than half its length. */
const MAX_SUGGEST_DISTANCE = 2;

/** Levenshtein distance between two short words (transpositions count as one edit). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate to `typed`, or undefined when none is near enough. */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const distance = editDistance(typed, c);
    if (distance < bestDistance) [best, bestDistance] = [c, distance];
  }
  return bestDistance <= Math.min(MAX_SUGGEST_DISTANCE, Math.ceil(typed.length / 2)) ? best : undefined;
}

/** The command (space-separated, as typed) closest to a mistyped one; oclif ids use `:`. */
export function suggestCommand(typed: string, commandIds: readonly string[]): string | undefined {
  const spaced = commandIds.filter((id) => !id.startsWith('_')).map((id) => id.replaceAll(':', ' '));
  const words = typed.split(' ');
  // "gte foo": the first word is the command, the rest its arguments; try the longest prefix first.
  for (let n = words.length; n >= 1; n--) {
    const guess = closest(words.slice(0, n).join(' '), spaced);
    if (guess) return guess;
  }
  return undefined;
}
