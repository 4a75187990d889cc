// Words for an interval, the same on the TV and the phone: its side, its
// target reps, and what comes after it. Fields are the canonical JSON of
// circuit.v1.Interval.

/** Side enum name -> what the screens say ('' for exercises without one). */
export const SIDE_LABELS = {SIDE_LEFT: 'Left side', SIDE_RIGHT: 'Right side', SIDE_BOTH: ''};

/** A RepRange as "8–10 reps" (or "10 reps"); '' when it has none. */
export function repsText(range) {
  if (!range || !range.minReps) return '';
  const min = range.minReps;
  const max = range.maxReps || min;
  return min === max ? `${min} reps` : `${min}–${max} reps`;
}

/**
 * What comes next, as a line: "Next: rest 15 s", "Next: Clamshell · left
 * side"; `atEnd` when nothing does.
 */
export function describeNext(next, atEnd) {
  if (!next) return atEnd;
  if (next.kind === 'INTERVAL_KIND_REST') {
    const seconds = Math.round(Number(next.durationMs || 0) / 1000);
    return seconds > 0 ? `Next: rest ${seconds} s` : 'Next: rest';
  }
  const side = SIDE_LABELS[next.side] ? ` · ${SIDE_LABELS[next.side].toLowerCase()}` : '';
  return `Next: ${next.exerciseName || 'exercise'}${side}`;
}
